"""Fine-tune on GLUE qnli with the paper's recipe (the task's epochs, LR by model size, layer-wise decay).

    python recipes/glue/qnli.py --model_dir runs/small --data_dir GLUE --output_dir runs/qnli [--seeds 1,2,3]
"""

import sys

from electra_tf import cli

if __name__ == "__main__":
    cli.main([sys.argv[0], "finetune", "glue", "--task", "qnli", *sys.argv[1:]])
