// kbert TFLite models on iOS. Add to the app bundle the files written by `kbert export tflite`:
//   classify.tflite (output "probability", labels.txt + vocab.txt packed),
//   qa.tflite (seq len 384, outputs "start_logits"/"end_logits"), embed.tflite (output "embeddings").
import Foundation
import MediaPipeTasksText
import TensorFlowLiteTaskText

let classifierAsset = "classify"
let qaAsset = "qa"
let embedderAsset = "embed"

final class KbertModels {
    private let classifier: TextClassifier
    private let bertClassifier: TFLBertNLClassifier
    private let answerer: TFLBertQuestionAnswerer
    private let embedder: TextEmbedder

    init() throws {
        guard let clfPath = Bundle.main.path(forResource: classifierAsset, ofType: "tflite"),
              let qaPath = Bundle.main.path(forResource: qaAsset, ofType: "tflite"),
              let embPath = Bundle.main.path(forResource: embedderAsset, ofType: "tflite") else {
            throw NSError(domain: "kbert", code: 1, userInfo: [NSLocalizedDescriptionKey: "model files missing"])
        }
        let options = TextClassifierOptions()
        options.baseOptions.modelAssetPath = clfPath
        options.maxResults = 3
        classifier = try TextClassifier(options: options)
        bertClassifier = TFLBertNLClassifier.bertNLClassifier(modelPath: clfPath)
        answerer = TFLBertQuestionAnswerer.questionAnswerer(modelPath: qaPath)
        embedder = try TextEmbedder(modelPath: embPath)
    }

    /// Top label and probability (MediaPipe Tasks).
    func classify(_ text: String) throws -> (String, Float) {
        let top = try classifier.classify(text: text).classificationResult.classifications[0].categories[0]
        return (top.categoryName ?? "", top.score)
    }

    /// Same file through the Task Library: label -> probability.
    func classifyWithTaskLibrary(_ text: String) -> [String: NSNumber] {
        return bertClassifier.classify(text: text)
    }

    func answer(question: String, context: String) -> String? {
        return answerer.answer(context: context, question: question).first?.text
    }

    func embed(_ text: String) throws -> [NSNumber]? {
        return try embedder.embed(text: text).embeddingResult.embeddings.first?.floatEmbedding
    }
}
