package dev.kbert.demo

// The string-in variant (`kbert.export.string_in`, exported with allow_custom_ops): the WordPiece /
// SentencePiece tokenizer runs inside the graph as tf-text ops, so the model takes one string tensor
// named "text" and returns "probability". Those ops are not TFLite built-ins: the interpreter needs
// the Select TF ops (Flex) delegate, which tensorflow-lite-select-tf-ops registers automatically
// once it is on the classpath (see build.gradle.snippet). MediaPipe and the Task Library do not
// load this variant: use the plain Interpreter.

import android.content.Context
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.support.common.FileUtil

const val STRING_IN_ASSET = "classify_string_in.tflite"

class StringInModel(context: Context, numLabels: Int) {
    private val interpreter = Interpreter(FileUtil.loadMappedFile(context, STRING_IN_ASSET),
                                          Interpreter.Options().setNumThreads(2))
    private val probs = Array(1) { FloatArray(numLabels) }

    fun classify(text: String): FloatArray {
        val runner = interpreter.getSignatureRunner("serving_default")
        runner.run(mapOf("text" to arrayOf(text)), mapOf("probability" to probs))
        return probs[0]
    }
}
