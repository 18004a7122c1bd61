"""A tiny ELECTRA learns on real English text: the loss falls and the discriminator separates replaced tokens."""


import numpy as np
import keras
import pytest

from electra_tf.data.pretraining import CorpusSource, pretraining_dataset
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.training.optimization import create_optimizer
from tests.test_case import SHARED_DATA, tiny_config

CORPUS = SHARED_DATA / "pretrain-en" / "gutenberg"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="needs the shared pre-training corpus")
def test_tiny_model_learns_replaced_token_detection_in_200_steps():
    keras.utils.set_random_seed(0)
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    # Text the bundled vocabulary was not learned from.
    dataset = pretraining_dataset(CorpusSource(text_files=str(CORPUS / "melville-moby_dick.txt")), tokenizer, max_length=64,
                                  batch_size=32, seed=0)
    pretrainer = ElectraPretrainer(tiny_config(vocab_size=tokenizer.vocab_size, hidden_dropout_prob=0.1,
                                               attention_probs_dropout_prob=0.1))
    pretrainer.compile(optimizer=create_optimizer(5e-4, num_train_steps=200, warmup_steps=20))
    history = pretrainer.fit(dataset, steps_per_epoch=50, epochs=4, verbose=0).history
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    assert np.all(np.diff(history["loss"]) < 0)
    assert history["rtd_auc"][-1] > 0.7
    assert history["mlm_loss"][-1] < history["mlm_loss"][0]
