// The string-in variant (tokenizer inside the graph, tf-text ops): needs TensorFlowLiteSwift plus
// TensorFlowLiteSelectTfOps (linked with -force_load so the Flex delegate registers itself).
// Input: one string tensor "text"; output "probability". MediaPipe / Task Library do not load it.
import TensorFlowLite

let stringInAsset = "classify_string_in"

final class StringInModel {
    private let interpreter: Interpreter

    init() throws {
        let path = Bundle.main.path(forResource: stringInAsset, ofType: "tflite")!
        var options = Interpreter.Options()
        options.threadCount = 2
        interpreter = try Interpreter(modelPath: path, options: options)
        try interpreter.allocateTensors()
    }

    func classify(_ text: String) throws -> [Float] {
        let runner = try interpreter.signatureRunner(with: "serving_default")
        try runner.invoke(with: ["text": Data(text.utf8)])
        let out = try runner.output(named: "probability")
        return out.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
