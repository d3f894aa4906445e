import numpy as np
import pytest

import kbert
from kbert.errors import KbertInputError
from kbert.training.student_init import every_other_layer, init_student, student_like


def test_every_other_layer_rule():
    assert every_other_layer(12, 6) == [0, 2, 4, 7, 9, 11]  # the DistilBERT recipe
    assert every_other_layer(6, 3) == [0, 3, 5]
    assert every_other_layer(4, 2) == [0, 3]
    assert every_other_layer(5, 5) == [0, 1, 2, 3, 4]
    assert every_other_layer(6, 1) == [0]
    with pytest.raises(KbertInputError, match="1..6"):
        every_other_layer(6, 7)


def _teacher(layers=4):
    return kbert.models.backbone("bert_tiny", num_layers=layers, vocabulary_size=50, max_sequence_length=32)


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights())) and a.get_weights()


def test_bert_to_distilbert_copies_weights_and_drops_segments():
    teacher = _teacher(4)
    student = student_like(teacher, 2, family="distilbert")
    assert kbert.models.family_of(student) == "distilbert"
    assert init_student(teacher, student, fold_segments=False) == [0, 3]
    assert np.array_equal(student.token_embedding.get_weights()[0], teacher.token_embedding.get_weights()[0])
    assert np.array_equal(student.embeddings.position_embedding.get_weights()[0],
                          teacher.position_embedding.get_weights()[0])
    assert _same(student.embeddings_layer_norm, teacher.embeddings_layer_norm)
    assert _same(student.transformer_layers[0], teacher.transformer_layers[0])
    assert _same(student.transformer_layers[1], teacher.transformer_layers[3])
    assert not _same(student.transformer_layers[1], teacher.transformer_layers[1])


def test_folded_segments_reproduce_the_teacher_exactly():
    teacher = _teacher(2)
    student = student_like(teacher, 2, family="distilbert")
    init_student(teacher, student)  # fold_segments=True: row 0 of the segment table joins positions
    x = kbert.models.dummy_inputs(teacher, 2, 12)
    want = teacher(x)["sequence_output"].numpy()
    got = student({k: x[k] for k in ("token_ids", "padding_mask")}).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_bert_to_bert_copies_pooler_and_segments():
    teacher = _teacher(6)
    student = student_like(teacher, 3)
    assert init_student(teacher, student) == [0, 3, 5]
    assert _same(student.pooled_dense, teacher.pooled_dense)
    assert _same(student.segment_embedding, teacher.segment_embedding)
    for s_layer, t_index in zip(student.transformer_layers, [0, 3, 5]):
        assert _same(s_layer, teacher.transformer_layers[t_index])


def test_classifier_heads_are_copied():
    from kbert.tasks.classifier import build_classifier

    teacher = build_classifier(_teacher(4), 3)
    student = build_classifier(student_like(teacher, 2), 3)
    init_student(teacher, student)
    assert _same(student.get_layer("logits"), teacher.get_layer("logits"))


def test_mismatched_widths_are_rejected():
    teacher = _teacher(2)
    student = kbert.models.backbone("bert_tiny", num_layers=1, vocabulary_size=50, hidden_dim=64, num_heads=2,
                                    intermediate_dim=256)
    with pytest.raises(KbertInputError, match="hidden_dim"):
        init_student(teacher, student)
