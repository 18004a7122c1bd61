"""Fine-tune on GLUE mnli with the paper's recipe (the task's epochs, LR by model size, layer-wise decay).

    python recipes/glue/mnli.py --model_dir runs/small --data_dir GLUE --output_dir runs/mnli [--seeds 1,2,3]
"""

import sys

from electra_tf import cli

if __name__ == "__main__":
    cli.main([sys.argv[0], "finetune", "glue", "--task", "mnli", *sys.argv[1:]])
