"""Fine-tune for SQuAD with the original's settings (google-research/electra `finetune/qa`): max length 512,
questions of up to 64 pieces, document stride 128, 2 epochs, batch 32, the LR and layer-wise decay of the model's
size (3e-4 / 1e-4 / 5e-5; 0.8, 0.9 for Large), 10% warm-up, the joint start/end head with answerable weight 0.5,
n-best 20 and answers of at most 30 pieces (electra_tf/training/recipes.py, electra_tf/models/answers.py).

    python recipes/squad.py --version 1.1 --model_dir runs/small --train_file train-v1.1.json.gz \
        --predict_file dev-v1.1.json.gz --output_dir runs/squad

Any `electra-tf finetune squad` flag overrides the recipe (e.g. --max_length 384, --num_epochs, --seeds).
"""

import sys

from electra_tf import cli

if __name__ == "__main__":
    cli.main([sys.argv[0], "finetune", "squad", *sys.argv[1:]])
