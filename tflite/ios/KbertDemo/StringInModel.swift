// The string-in variant (tokenizer inside the graph): one string input "text", output "probability".
// Op resolver: its tokenizer ops are tf-text TFLite custom ops (FastBertNormalize,
// FastWordpieceTokenizeWithOffsets), not built-ins and not Flex. Link tensorflow_text's TFLite kernels
// into the app and register them on the C API op resolver
// (tensorflow::text::tflite::AddFastBertNormalize / AddFastWordpieceTokenize) before creating the
// interpreter; TensorFlowLiteSwift's Interpreter alone cannot run this file. MediaPipe Tasks and the
// Task Library cannot load it either: prefer classify.tflite (tensor-in), which they tokenize for you.
import Foundation

let stringInAsset = "classify_string_in"
let stringInInput = "text"
let stringInOutput = "probability"
