"""NER on the real datasets: a small model pre-trained here, then fine-tuned briefly, beats the most frequent tag
of each word (marked slow: several minutes per dataset on 2 CPU cores; run with --run-slow)."""

import collections
import shutil

import pytest

from electra_tf.config import ElectraConfig
from electra_tf.data.pretraining import CorpusSource
from electra_tf.evaluation.ner import entity_scores
from electra_tf.tag_schemes import convert
from electra_tf.tasks.ner import NerFinetuning
from electra_tf.text import SAMPLE_CORPUS_FILE
from electra_tf.training.finetune import FinetuningJob, run_finetuning
from electra_tf.training.pretrain import PretrainingJob, run_pretraining
from tests.test_case import SHARED_DATA


def most_frequent_tag_f1(task: NerFinetuning, split: str) -> float:
    """Entity F1 of tagging each word with its most frequent training tag (BIO; O for unseen words)."""
    counts = collections.defaultdict(collections.Counter)
    for words, tags in zip(task.train.words, task.train.tags_in("bio")):
        for word, tag in zip(words, tags):
            counts[word][tag] += 1
    data = task.splits[split]
    guessed = [convert([counts[word].most_common(1)[0][0] if word in counts else "O" for word in words], data.scheme)
               for words in data.words]
    return entity_scores(data.tags_in(data.scheme), guessed)["f1"]


STEPS = {"wnut17": 2000, "conll2003": 3000}
MARGIN = 1.2  # dev F1 at least 1.2 x the baseline's; test F1 above it (WNUT-17's test entities are new ones)


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["wnut17", "conll2003"])
def test_a_small_pretrained_model_beats_the_most_frequent_tag(dataset, tmp_path):
    data_dir = SHARED_DATA / "ner" / dataset
    if not data_dir.is_dir():
        pytest.skip("needs the shared NER data")
    task = NerFinetuning(data_dir, crf=True)
    # Pre-training text: the bundled corpus and the training sentences (in-domain, as continued pre-training
    # would be); a cased vocabulary learned from both, since case is most of what NER has to go on.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE_CORPUS_FILE, corpus / "sample.txt")
    (corpus / "train.txt").write_text("\n\n".join(" ".join(words) for words in task.train.words) + "\n",
                                      encoding="utf-8")
    config = ElectraConfig.from_preset("tiny", embedding_size=64, hidden_size=128, intermediate_size=512)
    run_pretraining(PretrainingJob(
        source=CorpusSource(text_files=str(corpus / "*.txt")), output_dir=str(tmp_path / "pretrained"), config=config,
        learn_vocab_size=8000, lowercase=False, num_steps=1000, batch_size=32, seq_len=64, learning_rate=5e-4,
        warmup_steps=30, checkpoint_every=1000), verbose=0)
    results = run_finetuning(task, FinetuningJob(model_dir=str(tmp_path / "pretrained"),
                                                 output_dir=str(tmp_path / "ner"), num_steps=STEPS[dataset],
                                                 learning_rate=1e-3, max_length=64))
    f1 = {split: results["median"][split]["f1"] for split in ("dev", "test")}
    baseline = {split: most_frequent_tag_f1(task, split) for split in ("dev", "test")}
    print(f"{dataset}: entity F1 dev {f1['dev']:.2f} test {f1['test']:.2f}; most frequent tag dev "
          f"{baseline['dev']:.2f} test {baseline['test']:.2f}")
    assert f1["dev"] > MARGIN * baseline["dev"] and f1["test"] > baseline["test"]


