"""Evaluation: GLUE metrics, the GLUE average, and leaderboard prediction files."""

from electra_tf.evaluation.glue import glue_average, glue_metrics, write_glue_predictions

__all__ = ["glue_average", "glue_metrics", "write_glue_predictions"]
