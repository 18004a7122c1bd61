"""Fine-tune on a GLUE task with the paper's recipe (electra_tf/training/recipes.py: the task's epochs, the LR
and layer-wise decay of the model's size, batch 32, max length 128, 10% warm-up).

    python recipes/glue.py --task rte --model_dir runs/small --data_dir GLUE --output_dir runs/rte [--seeds 1,2,3]

Any `electra-tf finetune glue` flag overrides the recipe (e.g. --num_epochs, --learning_rate, --tfds).
"""

import sys

from electra_tf import cli

if __name__ == "__main__":
    cli.main([sys.argv[0], "finetune", "glue", *sys.argv[1:]])
