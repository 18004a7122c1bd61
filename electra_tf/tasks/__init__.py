"""Fine-tuning tasks: each ties its reader (`data/`), its model and preprocessor (`models/`, `text/`) and its
scorer (`evaluation/`) together for the one runner (`training/finetune.py`); its models export through the one
export path (`export/serving.py`)."""
