"""`electra-tf`: the command line. Each subcommand is a thin call into the package.

    electra-tf pretrain --config tiny --train_files 'corpus/*.txt' --vocab vocab.txt --output_dir runs/tiny
    electra-tf build-data --train_files 'corpus/*.txt' --vocab vocab.txt --output_dir shards --seq_len 128
    electra-tf pretrain --config small --train_records 'shards/*.tfrecord' --vocab vocab.txt --output_dir runs/small
    electra-tf finetune glue --task sst2 --model_dir runs/small --data_dir glue --output_dir runs/sst2 --seeds 1,2,3
    electra-tf finetune ner --model_dir runs/small --data_dir conll2003 --output_dir runs/ner --crf
    electra-tf finetune squad --version 1.1 --model_dir runs/small --train_file train-v1.1.json.gz \
        --predict_file dev-v1.1.json.gz --output_dir runs/squad
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Callable

from absl import app, flags

from electra_tf.config import PRESETS, ElectraConfig
from electra_tf.console import import_tensorflow_quietly
from electra_tf.training.distribute import STRATEGIES

FLAGS = flags.FLAGS

# --- Corpus (pretrain, build-data) ---
flags.DEFINE_string("train_files", None, "Glob of text files: one sentence per line, blank line between documents.")
flags.DEFINE_string("train_records", None, "Glob of TFRecord shards written by build-data.")
flags.DEFINE_string("tfds_name", None, "A TFDS text dataset (e.g. wikipedia/20230601.en), prepared in --tfds_data_dir.")
flags.DEFINE_string("tfds_split", "train", "TFDS split.")
flags.DEFINE_string("tfds_text_key", "text", "TFDS feature holding the text.")
flags.DEFINE_string("tfds_data_dir", None, "TFDS data directory.")
flags.DEFINE_string("vocab", None, "WordPiece vocab.txt.")
flags.DEFINE_integer("learn_vocab_size", None, "Learn a vocabulary of this size from the corpus instead of --vocab.")
flags.DEFINE_boolean("lowercase", True, "Lower-case and strip accents (uncased vocabulary).")
flags.DEFINE_string("output_dir", None, "Where to write (a model directory, or TFRecord shards for build-data).")
flags.DEFINE_integer("seq_len", 128, "Tokens per example.")
flags.DEFINE_integer("seed", 0, "Seed of data order, initialisation and masking.")
# --- pretrain ---
flags.DEFINE_string("config", "small", f"A preset ({', '.join(PRESETS)}) or the path of a config JSON.")
flags.DEFINE_string("init_from", None, "Model directory to continue pre-training from (fresh schedule).")
flags.DEFINE_integer("num_steps", 1_000_000, "Optimizer updates.")
flags.DEFINE_integer("batch_size", 128, "Global batch size per update (split into --grad_accum_steps micro-batches).")
flags.DEFINE_float("learning_rate", 5e-4, "Peak learning rate.")
flags.DEFINE_integer("warmup_steps", None, "Linear warm-up steps; default 1% of --num_steps (the paper's 10k of 1M).")
flags.DEFINE_boolean("force", False, "Resume into an output directory that was started with other settings.")
flags.DEFINE_float("mask_prob", None, "Share of tokens masked; default: the config's (0.15, 0.25 for large).")
flags.DEFINE_enum("objective", "electra", ["electra", "mlm"], "electra: replaced-token detection with a generator; "
                  "mlm: BERT's masked LM on the same encoder (80%% [MASK], 10%% random, 10%% kept), the paper's baseline.")
flags.DEFINE_enum("embedding_sharing", None, ["tied", "untied", "gdes"], "ELECTRA's generator/discriminator "
                  "embeddings: tied (the paper), untied (its ablation), gdes (DeBERTa-v3's gradient-disentangled "
                  "sharing); default: the config's (tied).")
flags.DEFINE_boolean("whole_word_masking", False, "Mask whole words (a piece and its ## pieces) within the same "
                     "budget; build-data: store word starts in the shards.")
flags.DEFINE_enum("chinese_segmentation", "none", ["none", "spaces", "jieba"], "With --whole_word_masking, how "
                  "CJK ideographs form words: none (each is a word), spaces (the text is segmented with spaces), "
                  "jieba (segmented with jieba: pip install jieba).")
flags.DEFINE_enum("strategy", "default", STRATEGIES, "tf.distribute strategy.")
flags.DEFINE_enum("mixed_precision", None, ["mixed_bfloat16", "mixed_float16"], "Mixed-precision policy.")
flags.DEFINE_boolean("jit_compile", False, "Compile with XLA: the pre-training step (pretrain) or the served forward "
                     "pass (export; each new request shape compiles once).")
flags.DEFINE_integer("grad_accum_steps", 1, "Micro-batches per update: same update, less activation memory.")
flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints (a rerun resumes from the newest); "
                     "fine-tuning: every epoch unless given.")
flags.DEFINE_string("checkpoint_dir", None, "Where checkpoints go (default: --output_dir/checkpoints); any path "
                    "TensorFlow can write, e.g. gs://bucket/run or shared storage for a multi-host run.")
flags.DEFINE_string("tpu", None, "With --strategy tpu: the TPU's name or grpc:// address (default: the local TPU "
                    "of a Cloud TPU VM).")
# --- build-data ---
flags.DEFINE_integer("num_shards", 10, "TFRecord files to write.")
# --- finetune glue ---
flags.DEFINE_string("task", None, "GLUE task: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli. With convert "
                    "--from tf1: the task_specific/<task> head to load from a multi-task checkpoint.")
flags.DEFINE_string("model_dir", None, "Pre-trained model directory to fine-tune.")
flags.DEFINE_string("data_dir", None, "The task's data: the GLUE root in the standard tsv layout (CoLA/, SST-2/, "
                    "...); for NER a folder of CoNLL files (train.txt/dev.txt/test.txt, eng.train/eng.testa/eng.testb, "
                    "or WNUT-17's names).")
flags.DEFINE_boolean("tfds", False, "Read the task from TFDS (glue/<task>; conll2003 for NER) instead of --data_dir.")
flags.DEFINE_integer("num_epochs", None, "Epochs; default the paper's (3; 10 for RTE and STS-B).")
flags.DEFINE_float("layerwise_lr_decay", None, "Layer-wise LR decay; default the paper's (0.8; 0.9 for Large).")
flags.DEFINE_float("weight_decay", None, "AdamW weight decay for fine-tuning; default the paper's (0).")
flags.DEFINE_integer("max_length", None, "Tokens per (pair of) sentence(s) for fine-tuning; default the paper's "
                     "(128; 256 for NER). Saved with the model: export serves at this length.")
flags.DEFINE_list("seeds", ["0"], "Fine-tuning seeds; the median over seeds is reported.")
flags.DEFINE_integer("lora_rank", None, "Fine-tune LoRA adapters of this rank and the head only (the encoder stays "
                     "frozen); the saved model is merged, the adapters saved beside it.")
flags.DEFINE_float("lora_alpha", None, "LoRA's alpha: the adapters are scaled by alpha / rank (default: the rank).")
flags.DEFINE_list("lora_targets", ["query", "value"], "Projections that get adapters: query, key, value, "
                  "attention_output, intermediate, output.")
# --- finetune ner ---
flags.DEFINE_string("train_file", None, "NER: the CoNLL training file (instead of finding it in --data_dir). "
                    "SQuAD: the training JSON (.json or .json.gz).")
flags.DEFINE_string("dev_file", None, "NER: the CoNLL development file (selects epochs and seeds).")
flags.DEFINE_string("test_file", None, "NER: a labelled CoNLL test file, scored with the selected model.")
flags.DEFINE_enum("scheme", "bio", ["bio", "bioes"], "NER: the tag scheme the model learns (files may use IOB1, "
                  "BIO or BIOES; they are converted). The original trains on BIOES.")
flags.DEFINE_boolean("crf", False, "NER: decode with a linear-chain CRF on the tagger.")
flags.DEFINE_boolean("crf_constraints", True, "NER: with --crf, never decode an illegal transition (O -> I-X).")
flags.DEFINE_integer("tag_column", -1, "NER: the files' tag column (0-based; -1 the last).")
# --- finetune squad ---
flags.DEFINE_string("predict_file", None, "SQuAD: the JSON that selects epochs and seeds and gets predictions.")
flags.DEFINE_integer("doc_stride", None, "SQuAD: context pieces between window starts (default the original's 128).")
flags.DEFINE_integer("max_question_length", None, "SQuAD: question pieces kept (default the original's 64).")
# --- zeroshot ---
flags.DEFINE_string("template", "{text} It was {word}.", "zeroshot: the prompt, with {text} and {word} once each.")
flags.DEFINE_list("labels", ["terrible", "great"], "zeroshot: one label word per label, in the task's label order.")
flags.DEFINE_integer("shots_per_class", None, "zeroshot: also fine-tune the prompt's scores few-shot on this many "
                     "training examples per label (and as many again to select epochs), into --output_dir.")
# --- export, predict ---
flags.DEFINE_string("export_dir", None, "TF Serving model base path, e.g. saved_models/sst2: the next version is written.")
flags.DEFINE_string("version", None, "export: the SavedModel version, an integer (default one more than the newest). "
                    "finetune squad: the SQuAD version, 1.1 or 2.0 (default the files').")
flags.DEFINE_string("model", None, "SavedModel base path (the newest version is used) or version directory.")
flags.DEFINE_multi_string("text", None, "A text to classify or tag; 'first ||| second' for a text pair. "
                          "Repeatable.")
flags.DEFINE_string("input_file", None, "A file of texts: one per line, or two tab-separated columns for pairs.")
flags.DEFINE_multi_string("question", None, "A question for a reader (SavedModel of finetune squad). Repeatable.")
flags.DEFINE_multi_string("context", None, "The context of each --question (one, or one per question).")
flags.DEFINE_boolean("json", False, "Print JSON lines instead of a table.")
flags.DEFINE_boolean("debug", False, "Show the full traceback of an error (or set ELECTRA_TF_DEBUG=1).")
# --- convert ---
flags.DEFINE_enum("from", None, ["hf", "tf1", "keras-hub"], "Checkpoint kind to convert.")
flags.DEFINE_string("input", None, "Checkpoint to convert: HF directory, TF1 model.ckpt prefix, keras-hub preset dir.")
flags.DEFINE_string("output", None, "Model directory to write (new or empty).")
flags.DEFINE_string("generator", None, "With --from hf: an ElectraForMaskedLM directory; writes a pre-trainer.")
flags.DEFINE_boolean("tagging", False, "With --from tf1: the task head is a tagger (one label per token); by "
                     "default only the original's `chunk` task is.")


def _corpus_source():
    from electra_tf.data.pretraining import CorpusSource

    return CorpusSource(text_files=FLAGS.train_files, tfrecords=FLAGS.train_records, tfds_name=FLAGS.tfds_name,
                        tfds_split=FLAGS.tfds_split, tfds_text_key=FLAGS.tfds_text_key,
                        tfds_data_dir=FLAGS.tfds_data_dir)


def _config_flag(**overrides) -> ElectraConfig:
    """--config: a preset name or a JSON file (ours or a Hugging Face config.json), with fields replaced."""
    if FLAGS.config in PRESETS:
        return ElectraConfig.from_preset(FLAGS.config, **overrides)
    if not os.path.isfile(FLAGS.config):
        raise app.UsageError(f"--config {FLAGS.config!r} is neither a preset ({', '.join(PRESETS)}) nor a file.")
    with open(FLAGS.config, encoding="utf-8") as f:
        return ElectraConfig.from_dict({**json.load(f), **overrides})


def _require(*names: str) -> None:
    for name in names:
        if not getattr(FLAGS, name):
            raise app.UsageError(f"--{name} is required.")


def pretrain(argv: list[str]) -> None:
    from electra_tf.training.pretrain import PretrainingJob, run_pretraining  # imports TensorFlow

    del argv
    _require("output_dir")
    config = None
    if not FLAGS.init_from:
        config = _config_flag()
    run_pretraining(PretrainingJob(
        source=_corpus_source(), output_dir=FLAGS.output_dir, config=config, objective=FLAGS.objective,
        embedding_sharing=FLAGS.embedding_sharing, mask_prob=FLAGS.mask_prob, whole_words=_whole_words(),
        vocab=FLAGS.vocab, learn_vocab_size=FLAGS.learn_vocab_size, init_from=FLAGS.init_from,
        num_steps=FLAGS.num_steps, batch_size=FLAGS.batch_size, seq_len=FLAGS.seq_len,
        learning_rate=FLAGS.learning_rate, warmup_steps=FLAGS.warmup_steps, lowercase=FLAGS.lowercase,
        strategy=FLAGS.strategy, mixed_precision=FLAGS.mixed_precision, jit_compile=FLAGS.jit_compile,
        grad_accum_steps=FLAGS.grad_accum_steps, checkpoint_every=FLAGS.checkpoint_every,
        checkpoint_dir=FLAGS.checkpoint_dir, tpu_address=FLAGS.tpu, seed=FLAGS.seed, force=FLAGS.force))
    print(f"Saved the pre-trained model to {os.path.abspath(FLAGS.output_dir)}")


def build_data(argv: list[str]) -> None:
    from electra_tf.data.pretraining import build_examples, corpus_documents, write_tfrecords
    from electra_tf.text.tokenizer import WordPieceTokenizer

    del argv
    _require("vocab", "output_dir")
    tokenizer = WordPieceTokenizer(FLAGS.vocab, lowercase=FLAGS.lowercase)
    examples = build_examples(corpus_documents(_corpus_source()), tokenizer, FLAGS.seq_len, seed=FLAGS.seed,
                              whole_words=_whole_words())
    paths = write_tfrecords(examples, FLAGS.output_dir, FLAGS.seq_len, num_shards=FLAGS.num_shards)
    print(f"Wrote {len(paths)} TFRecord shards to {os.path.abspath(FLAGS.output_dir)}")


def _whole_words():
    from electra_tf.data.pretraining import WholeWords

    if not FLAGS.whole_word_masking:
        if FLAGS.chinese_segmentation != "none":
            raise app.UsageError("--chinese_segmentation only applies with --whole_word_masking.")
        return None
    return WholeWords(chinese=FLAGS.chinese_segmentation)


def _given(name: str):
    """A flag's value if it was given on the command line, else None (the recipe's value applies)."""
    return FLAGS[name].value if FLAGS[name].present else None


def _finetuning_job():
    from electra_tf.training.finetune import FinetuningJob

    return FinetuningJob(
        model_dir=FLAGS.model_dir, output_dir=FLAGS.output_dir, num_epochs=FLAGS.num_epochs,
        num_steps=_given("num_steps"), learning_rate=_given("learning_rate"),
        layerwise_lr_decay=FLAGS.layerwise_lr_decay, batch_size=_given("batch_size"), max_length=FLAGS.max_length,
        weight_decay=FLAGS.weight_decay, seeds=tuple(int(s) for s in FLAGS.seeds),
        grad_accum_steps=FLAGS.grad_accum_steps, strategy=FLAGS.strategy,
        checkpoint_every=_given("checkpoint_every"), lora=_lora_settings())


def _lora_settings():
    from electra_tf.models.lora import LoraSettings

    if FLAGS.lora_rank is None:
        if FLAGS["lora_alpha"].present or FLAGS["lora_targets"].present:
            raise app.UsageError("--lora_alpha and --lora_targets need --lora_rank.")
        return None
    return LoraSettings(FLAGS.lora_rank, FLAGS.lora_alpha, tuple(FLAGS.lora_targets))


def _run_finetuning(task) -> None:
    from electra_tf.training.finetune import run_finetuning

    results = run_finetuning(task, _finetuning_job())
    print(json.dumps({"task": results["task"], "median": results["median"]}, indent=2))
    print(f"Results in {os.path.join(os.path.abspath(FLAGS.output_dir), 'results.json')}")


def finetune_glue(argv: list[str]) -> None:
    from electra_tf.tasks.glue import GlueFinetuning

    del argv
    _require("task", "model_dir", "output_dir")
    _run_finetuning(GlueFinetuning(FLAGS.task, data_dir=FLAGS.data_dir, use_tfds=FLAGS.tfds,
                                   tfds_data_dir=FLAGS.tfds_data_dir))


def finetune_ner(argv: list[str]) -> None:
    from electra_tf.tasks.ner import NerFinetuning

    del argv
    _require("model_dir", "output_dir")
    if not (FLAGS.data_dir or FLAGS.train_file or FLAGS.tfds):
        raise app.UsageError("Give --data_dir, --train_file and --dev_file, or --tfds (conll2003).")
    _run_finetuning(NerFinetuning(
        FLAGS.data_dir, train_file=FLAGS.train_file, dev_file=FLAGS.dev_file, test_file=FLAGS.test_file,
        scheme=FLAGS.scheme, crf=FLAGS.crf, crf_constraints=FLAGS.crf_constraints, tag_column=FLAGS.tag_column,
        tfds_name="conll2003" if FLAGS.tfds else None, tfds_data_dir=FLAGS.tfds_data_dir))


def finetune_squad(argv: list[str]) -> None:
    from electra_tf.tasks.squad import SquadFinetuning
    from electra_tf.text.question_answering import DOC_STRIDE, MAX_QUESTION_LENGTH

    del argv
    _require("model_dir", "output_dir")
    if FLAGS.version not in (None, "1.1", "2.0"):
        raise app.UsageError(f"--version must be 1.1 or 2.0 for SQuAD, got {FLAGS.version!r}.")
    if not (FLAGS.tfds or (FLAGS.train_file and FLAGS.predict_file)):
        raise app.UsageError("Give --train_file and --predict_file, or --tfds (squad/v<version>).")
    _run_finetuning(SquadFinetuning(
        FLAGS.train_file, FLAGS.predict_file, version=FLAGS.version,
        max_question_length=FLAGS.max_question_length or MAX_QUESTION_LENGTH, doc_stride=FLAGS.doc_stride or DOC_STRIDE,
        tfds_name=f"squad/v{FLAGS.version or '1.1'}" if FLAGS.tfds else None, tfds_data_dir=FLAGS.tfds_data_dir))


def zeroshot(argv: list[str]) -> None:
    from electra_tf.export.serving import export_model_directory
    from electra_tf.tasks.prompting import FEW_SHOT_BATCH_SIZE, FEW_SHOT_EPOCHS, PromptFinetuning
    from electra_tf.training.finetune import run_finetuning

    del argv
    _require("model_dir", "data_dir")
    if (FLAGS.shots_per_class or FLAGS.export_dir) and not FLAGS.output_dir:
        raise app.UsageError("--shots_per_class and --export_dir write a model: give --output_dir.")
    task = PromptFinetuning(FLAGS.task or "sst2", FLAGS.data_dir, FLAGS.template, FLAGS.labels,
                            FLAGS.shots_per_class, seed=int(FLAGS.seeds[0]))
    model = task.new_model(FLAGS.model_dir, FLAGS.max_length or 128)
    report = {"task": task.name, "dev_examples": len(task.dev), "majority_accuracy": task.majority_accuracy(),
              "zero_shot_accuracy": task.evaluate(model, task.dev, 32)["accuracy"]}
    model_dir = os.path.join(FLAGS.output_dir or "", "model")
    if FLAGS.shots_per_class:
        job = dataclasses.replace(_finetuning_job(), num_epochs=FLAGS.num_epochs or FEW_SHOT_EPOCHS,
                                  batch_size=_given("batch_size") or FEW_SHOT_BATCH_SIZE)
        report["few_shot_accuracy"] = run_finetuning(task, job)["median"]["dev"]["accuracy"]
    elif FLAGS.export_dir:
        model.save_pretrained(model_dir)
    print(f"{task.name}: zero-shot dev accuracy {report['zero_shot_accuracy']:.1f}%"
          + (f", few-shot ({FLAGS.shots_per_class} per label) {report['few_shot_accuracy']:.1f}%"
             if FLAGS.shots_per_class else "")
          + f"; majority class {report['majority_accuracy']:.1f}% ({report['dev_examples']} dev examples)")
    if FLAGS.export_dir:
        report["saved_model"] = os.path.abspath(export_model_directory(model_dir, FLAGS.export_dir))
        print(f"Exported to {report['saved_model']}")
    print(json.dumps(report))


def export(argv: list[str]) -> None:
    from electra_tf.export.serving import export_model_directory

    del argv
    _require("model_dir", "export_dir")
    if FLAGS.version is not None and not FLAGS.version.isdigit():
        raise app.UsageError(f"--version must be an integer for export, got {FLAGS.version!r}.")
    path = export_model_directory(FLAGS.model_dir, FLAGS.export_dir,
                                  version=None if FLAGS.version is None else int(FLAGS.version),
                                  jit_compile=FLAGS.jit_compile)
    print(f"Exported {FLAGS.model_dir} to {os.path.abspath(path)}")


def predict(argv: list[str]) -> None:
    from electra_tf.export.predict import load_serving_model, predict_answers, predict_texts, read_texts

    del argv
    _require("model")
    if FLAGS.question:
        contexts = FLAGS.context or []
        contexts = contexts * len(FLAGS.question) if len(contexts) == 1 else contexts
        for question, answer in zip(FLAGS.question, predict_answers(load_serving_model(FLAGS.model), FLAGS.question,
                                                                    contexts)):
            print(json.dumps({"question": question, **answer}, ensure_ascii=False) if FLAGS.json
                  else f"{answer['answer'] or '(no answer)'}\t{question}")
        return
    texts = read_texts(FLAGS.text or [], FLAGS.input_file)
    if not texts:
        raise app.UsageError("Give --text or --input_file.")
    for text, answer in zip(texts, predict_texts(load_serving_model(FLAGS.model), texts)):
        print(json.dumps({"text": text[0] if len(text) == 1 else list(text), **answer}, ensure_ascii=False) if FLAGS.json
              else f"{_summary(answer)}\t{' ||| '.join(text)}")


def _summary(answer: dict) -> str:
    """One table cell: the label, the score, or the entities as `TYPE:text`."""
    if "entities" in answer:
        return " ".join(f"{entity['type']}:{entity['text']}" for entity in answer["entities"]) or "-"
    return str(answer.get("label", answer.get("score")))


def convert(argv: list[str]) -> None:
    from electra_tf.convert.checkpoint import convert_checkpoint
    from electra_tf.text.tokenizer import WordPieceTokenizer, special_token_ids

    del argv
    _require("input", "output")
    if FLAGS["from"].value is None:
        raise app.UsageError("--from is required (hf, tf1 or keras-hub).")
    config = None
    if FLAGS["config"].present:
        # The special-token ids come from the vocabulary (a Hugging Face config.json has none).
        vocabulary = WordPieceTokenizer(FLAGS.vocab) if FLAGS.vocab else None
        config = _config_flag(**(special_token_ids(vocabulary) if vocabulary else {}))
    kind = convert_checkpoint(FLAGS["from"].value, FLAGS.input, FLAGS.output, config=config, vocab=FLAGS.vocab,
                              generator=FLAGS.generator, task=FLAGS.task,
                              tagging=True if FLAGS.tagging else None, lowercase=FLAGS.lowercase)
    print(f"Converted {FLAGS.input} to a {kind} model directory at {os.path.abspath(FLAGS.output)}")


@dataclasses.dataclass(frozen=True)
class Command:
    """A subcommand: what runs, what it does in a line, and the flags it reads (shown by its --help)."""

    run: Callable[[list[str]], None]
    summary: str
    flags: tuple[str, ...]


# What every fine-tuning command shares: scale-out and resume flags (--checkpoint_every: default each epoch), LoRA.
_FINETUNING_SHARED = ("strategy", "grad_accum_steps", "checkpoint_every", "lora_rank", "lora_alpha", "lora_targets")
_CORPUS = ("train_files", "train_records", "tfds_name", "tfds_split", "tfds_text_key", "tfds_data_dir")
# `electra-tf NAME` or, for fine-tuning, `electra-tf finetune KIND`.
COMMANDS = {
    "pretrain": Command(pretrain, "Pre-train ELECTRA (a generator and a discriminator; or the masked-LM baseline) on "
                        "a corpus; rerun to resume.",
                        ("config", *_CORPUS, "vocab", "learn_vocab_size", "lowercase", "output_dir", "init_from",
                         "num_steps", "batch_size", "seq_len", "learning_rate", "warmup_steps", "objective",
                         "embedding_sharing", "mask_prob",
                         "whole_word_masking", "chinese_segmentation",
                         "strategy", "tpu", "mixed_precision", "jit_compile", "grad_accum_steps",
                         "checkpoint_every", "checkpoint_dir", "seed", "force")),
    "build-data": Command(build_data, "Tokenize a corpus once into TFRecord shards for pre-training.",
                          (*_CORPUS, "vocab", "lowercase", "output_dir", "seq_len", "num_shards", "seed",
                           "whole_word_masking", "chinese_segmentation")),
    "finetune glue": Command(finetune_glue, "Fine-tune a model directory on a GLUE task with the paper's recipe.",
                             ("task", "model_dir", "data_dir", "tfds", "tfds_data_dir", "output_dir", "num_epochs",
                              "num_steps", "learning_rate", "layerwise_lr_decay", "batch_size", "max_length",
                              "weight_decay", "seeds", *_FINETUNING_SHARED)),
    "finetune ner": Command(finetune_ner, "Fine-tune a model directory for named-entity recognition on CoNLL files.",
                            ("model_dir", "data_dir", "train_file", "dev_file", "test_file", "tfds", "tfds_data_dir",
                             "output_dir", "scheme", "crf", "crf_constraints", "tag_column", "num_epochs", "num_steps",
                             "learning_rate", "layerwise_lr_decay", "batch_size", "max_length", "weight_decay",
                             "seeds", *_FINETUNING_SHARED)),
    "finetune squad": Command(finetune_squad, "Fine-tune a model directory for extractive QA on SQuAD 1.1 or 2.0.",
                              ("version", "model_dir", "train_file", "predict_file", "tfds", "tfds_data_dir",
                               "output_dir", "max_length", "doc_stride", "max_question_length", "num_epochs",
                               "num_steps", "learning_rate", "layerwise_lr_decay", "batch_size", "weight_decay",
                               "seeds", *_FINETUNING_SHARED)),
    "zeroshot": Command(zeroshot, "Classify with the discriminator's RTD head and a prompt, zero-shot (or few-shot).",
                        ("model_dir", "data_dir", "task", "template", "labels", "shots_per_class", "output_dir",
                         "export_dir", "max_length", "num_epochs", "num_steps", "learning_rate", "batch_size",
                         "seeds")),
    "export": Command(export, "Export a fine-tuned model directory as a versioned SavedModel for TF Serving.",
                      ("model_dir", "export_dir", "version", "jit_compile")),
    "predict": Command(predict, "Answer texts (or questions on contexts) with an exported SavedModel.",
                       ("model", "text", "input_file", "question", "context", "json")),
    "convert": Command(convert, "Convert a Hugging Face, TF1 or keras-hub checkpoint into a model directory.",
                       ("from", "input", "output", "config", "vocab", "generator", "task", "tagging", "lowercase")),
}
HELP_FLAGS = ("--help", "-h", "--helpshort")
# Errors a user can fix from the message alone: shown as one line (exit 1) unless --debug or ELECTRA_TF_DEBUG=1.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, app.UsageError)


def command_help(name: str) -> str:
    """`electra-tf NAME --help`: what the command does and each of its flags with its default."""
    command = COMMANDS[name]
    lines = [f"usage: electra-tf {name} [--flag value ...]", "", command.summary, "", "flags:"]
    for flag_name in (*command.flags, "debug"):
        flag = FLAGS[flag_name]
        default = "" if flag.default is None else f" (default: {flag.default_as_str or flag.default})"
        lines.append(f"  --{flag_name}: {flag.help}{default}")
    return "\n".join(lines)


def _usage() -> str:
    width = max(map(len, COMMANDS))
    return "\n".join(["usage: electra-tf COMMAND [--flag value ...]   (electra-tf COMMAND --help: its flags)", "",
                      "commands:", *(f"  {name.ljust(width)}  {command.summary}" for name, command in COMMANDS.items())])


def _run_reporting_user_errors(name: str) -> Callable[[list[str]], None]:
    def run(argv: list[str]) -> None:
        debug = FLAGS.debug or os.environ.get("ELECTRA_TF_DEBUG") == "1"
        import_tensorflow_quietly(show=debug)
        from electra_tf.training.checkpoints import PREEMPTED_EXIT_CODE, Preempted

        try:
            COMMANDS[name].run(argv)
        except Preempted as preempted:  # saved: a cluster's restart policy tells this status from a failure
            print(f"electra-tf {name}: {preempted}", file=sys.stderr)
            sys.exit(PREEMPTED_EXIT_CODE)
        except USER_ERRORS as error:
            if debug:
                raise
            print(f"electra-tf {name}: error: {error}", file=sys.stderr)
            sys.exit(1)
    return run


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    words = 2 if len(argv) > 1 and argv[1] == "finetune" else 1
    name = " ".join(argv[1:1 + words])
    if name not in COMMANDS:
        print(_usage(), file=sys.stdout if set(argv[1:]) & set(HELP_FLAGS) else sys.stderr)
        sys.exit(0 if set(argv[1:]) & set(HELP_FLAGS) else 2)
    arguments = argv[1 + words:]
    if set(arguments) & set(HELP_FLAGS):
        print(command_help(name))
        return
    app.run(_run_reporting_user_errors(name), argv=[f"{argv[0]} {name}", *arguments])


if __name__ == "__main__":
    main()
