"""Fine-tune for NER with the original's tagging settings (google-research/electra `finetune/tagging`): BIOES
tags, labels on each word's first word-piece, max length 256, 3 epochs, batch 32, the LR and layer-wise decay of
the model's size, 10% warm-up (electra_tf/training/recipes.py).

    python recipes/ner.py --model_dir runs/small --data_dir ../shared/data/ner/conll2003 --output_dir runs/ner [--crf]

Any `electra-tf finetune ner` flag overrides the recipe (e.g. --scheme bio, --num_epochs, --train_file).
"""

import sys

from electra_tf import cli
from electra_tf.training.recipes import ORIGINAL_TAGGING_SCHEME

if __name__ == "__main__":
    given = sys.argv[1:]
    scheme = [] if any(arg.startswith("--scheme") for arg in given) else [f"--scheme={ORIGINAL_TAGGING_SCHEME}"]
    cli.main([sys.argv[0], "finetune", "ner", *scheme, *given])
