"""Checkpoints from elsewhere: Hugging Face (safetensors) into electra_tf models, and back."""
