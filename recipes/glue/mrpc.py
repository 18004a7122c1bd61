"""Fine-tune on GLUE mrpc with the paper's recipe (the task's epochs, LR by model size, layer-wise decay).

    python recipes/glue/mrpc.py --model_dir runs/small --data_dir GLUE --output_dir runs/mrpc [--seeds 1,2,3]
"""

import sys

from electra_tf import cli

if __name__ == "__main__":
    cli.main([sys.argv[0], "finetune", "glue", "--task", "mrpc", *sys.argv[1:]])
