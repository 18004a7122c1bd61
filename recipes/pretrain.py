"""Pre-train ELECTRA with the paper's settings for a model size (google-research/electra configure_pretraining.py).

    python recipes/pretrain.py --size small --train_files 'corpus/*.txt' --vocab vocab.txt --output_dir runs/small

Any `electra-tf pretrain` flag given on the command line overrides the size's settings (e.g. --num_steps,
--strategy mirrored, --mixed_precision mixed_bfloat16). Rerunning the same command resumes.
"""

import sys

from electra_tf import cli
from electra_tf.training.recipes import PRETRAINING


def main(argv: list[str]) -> None:
    size = "small"
    if "--size" in argv:
        index = argv.index("--size")
        size = argv[index + 1]
        argv = argv[:index] + argv[index + 2:]
    if size not in PRETRAINING:
        sys.exit(f"--size must be one of {sorted(PRETRAINING)}")
    recipe = PRETRAINING[size]
    defaults = ["--config", size, "--batch_size", str(recipe.batch_size), "--learning_rate", str(recipe.learning_rate),
                "--num_steps", str(recipe.num_steps), "--seq_len", str(recipe.seq_len),
                "--warmup_steps", str(recipe.warmup_steps)]
    # absl keeps the last value of a repeated flag: the user's flags come after the defaults.
    cli.main([argv[0], "pretrain", *defaults, *argv[1:]])


if __name__ == "__main__":
    main(sys.argv)
