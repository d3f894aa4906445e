package dev.kbert.demo

// The string-in variant (`kbert.export.string_in`, exported with allow_custom_ops): the WordPiece
// tokenizer runs inside the graph, so the model takes one string tensor "text" and returns
// "probability". Op resolver: the tokenizer ops are tf-text TFLite *custom* ops
// (FastBertNormalize, FastWordpieceTokenizeWithOffsets) - neither built-ins nor Flex ops. Register
// them in native code before building the interpreter:
//     tflite::MutableOpResolver resolver = tflite::ops::builtin::BuiltinOpResolver();
//     tensorflow::text::tflite::AddFastBertNormalize(&resolver);       // from tensorflow_text's
//     tensorflow::text::tflite::AddFastWordpieceTokenize(&resolver);   // tflite_registrar (C++)
// and load the model through that resolver (JNI), or use the tensor-in classify.tflite with MediaPipe
// / the Task Library, which tokenize from the packed vocab.txt themselves (recommended).
// MediaPipe Tasks and the Task Library cannot load this variant.

import org.tensorflow.lite.InterpreterApi

const val STRING_IN_ASSET = "classify_string_in.tflite"
const val STRING_IN_INPUT = "text"
const val STRING_IN_OUTPUT = "probability"

/** `interpreter` must come from a native factory whose op resolver has the tf-text ops (see above). */
class StringInModel(private val interpreter: InterpreterApi, numLabels: Int) {
    private val probs = Array(1) { FloatArray(numLabels) }

    fun classify(text: String): FloatArray {
        interpreter.runSignature(mapOf(STRING_IN_INPUT to arrayOf(text)), mapOf(STRING_IN_OUTPUT to probs))
        return probs[0]
    }
}
