// kbert TFLite models on iOS. Add to the app bundle the files written by `kbert export tflite`:
//   classify.tflite (output "probability", labels.txt + vocab.txt packed),
//   qa.tflite (seq len 384, outputs "start_logits"/"end_logits"), embed.tflite (output "embeddings").
// MediaPipe Tasks for classify / embed (the default export: per-channel dynamic-int8, which the TFLite
// Task Library 0.4.4 cannot load); the Task Library for QA (export it with `--runtime tasklib`).
// Not compiled here (no Xcode in kbert's CI): the tests check asset, tensor and file names only.
import Foundation
import MediaPipeTasksText
import TensorFlowLiteTaskText

let classifierAsset = "classify"
let qaAsset = "qa"
let embedderAsset = "embed"

final class KbertModels {
    private let classifier: TextClassifier
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
        answerer = TFLBertQuestionAnswerer.questionAnswerer(modelPath: qaPath)
        embedder = try TextEmbedder(modelPath: embPath)
    }

    /// Top label and probability (MediaPipe Tasks).
    func classify(_ text: String) throws -> (String, Float) {
        let top = try classifier.classify(text: text).classificationResult.classifications[0].categories[0]
        return (top.categoryName ?? "", top.score)
    }

    func answer(question: String, context: String) -> String? {
        return answerer.answer(context: context, question: question).first?.text
    }

    func embed(_ text: String) throws -> [NSNumber]? {
        return try embedder.embed(text: text).embeddingResult.embeddings.first?.floatEmbedding
    }
}
