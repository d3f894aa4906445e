package dev.kbert.demo

// kbert TFLite models on Android. Assets (app/src/main/assets/), written by `kbert export tflite`:
//   classify.tflite  inputs ids/mask/segment_ids, output "probability", labels.txt + vocab.txt packed
//   qa.tflite        seq len 384, outputs "start_logits"/"end_logits", vocab.txt packed
//   embed.tflite     output "embeddings", vocab.txt packed
// The tokenizer runs inside the runtimes (from the packed vocab.txt / spiece.model): pass raw text.
// Runtimes: MediaPipe Tasks for classify / embed (the default export: per-channel dynamic-int8, which
// the TFLite Task Library 0.4.4 cannot load), the Task Library for QA (MediaPipe Tasks has no BERT
// question answerer; export qa.tflite with `--runtime tasklib`). Not compiled here (no Android SDK
// in kbert's CI): kbert's tests check the asset, tensor and file names against real exports.

import android.content.Context
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.text.textclassifier.TextClassifier
import com.google.mediapipe.tasks.text.textembedder.TextEmbedder
import org.tensorflow.lite.task.text.qa.BertQuestionAnswerer

const val CLASSIFIER_ASSET = "classify.tflite"
const val QA_ASSET = "qa.tflite"
const val EMBEDDER_ASSET = "embed.tflite"

class KbertModels(context: Context) {
    // MediaPipe Tasks text classifier: scores come from the "probability" output.
    private val classifier: TextClassifier = TextClassifier.createFromOptions(
        context,
        TextClassifier.TextClassifierOptions.builder()
            .setBaseOptions(BaseOptions.builder().setModelAssetPath(CLASSIFIER_ASSET).build())
            .setMaxResults(3)
            .build()
    )

    private val answerer: BertQuestionAnswerer = BertQuestionAnswerer.createFromFile(context, QA_ASSET)

    private val embedder: TextEmbedder = TextEmbedder.createFromOptions(
        context,
        TextEmbedder.TextEmbedderOptions.builder()
            .setBaseOptions(BaseOptions.builder().setModelAssetPath(EMBEDDER_ASSET).build())
            .build()
    )

    /** Top label and its probability. Run off the main thread. */
    fun classify(text: String): Pair<String, Float> {
        val top = classifier.classify(text).classificationResult().classifications()[0].categories()[0]
        return top.categoryName() to top.score()
    }

    /** Best answer span from the context (the Task Library tokenizes with the packed vocab.txt). */
    fun answer(question: String, context: String): String? =
        answerer.answer(context, question).firstOrNull()?.text

    fun embed(text: String): FloatArray =
        embedder.embed(text).embeddingResult().embeddings()[0].floatEmbedding()

    fun close() {
        classifier.close(); answerer.close(); embedder.close()
    }
}
