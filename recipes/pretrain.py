"""Pre-train ELECTRA with the paper's settings for a model size (google-research/electra configure_pretraining.py).

    python recipes/pretrain.py --size small --train_files 'corpus/*.txt' --vocab vocab.txt --output_dir runs/small

Any `electra-tf pretrain` flag given on the command line overrides the size's settings (e.g. --num_steps,
--strategy mirrored, --mixed_precision mixed_bfloat16). Rerunning the same command resumes.
"""

import sys

from electra_tf import cli

# size: (batch size, peak learning rate, train steps, sequence length); mask rate, generator size and
# architecture come with the preset (large: mask_prob 0.25).
PAPER_SETTINGS = {
    "small": (128, 5e-4, 1_000_000, 128),
    "small++": (128, 5e-4, 1_000_000, 128),
    "base": (256, 2e-4, 766_000, 512),
    "large": (2048, 2e-4, 400_000, 512),
}


def main(argv: list[str]) -> None:
    size = "small"
    if "--size" in argv:
        index = argv.index("--size")
        size = argv[index + 1]
        argv = argv[:index] + argv[index + 2:]
    if size not in PAPER_SETTINGS:
        sys.exit(f"--size must be one of {sorted(PAPER_SETTINGS)}")
    batch_size, learning_rate, num_steps, seq_len = PAPER_SETTINGS[size]
    defaults = ["--config", size, "--batch_size", str(batch_size), "--learning_rate", str(learning_rate),
                "--num_steps", str(num_steps), "--seq_len", str(seq_len), "--warmup_steps", "10000"]
    # absl keeps the last value of a repeated flag: the user's flags come after the defaults.
    cli.main([argv[0], "pretrain", *defaults, *argv[1:]])


if __name__ == "__main__":
    main(sys.argv)
