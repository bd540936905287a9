"""Text classification on a frozen encoder: heads, explanations, faithfulness, evaluation."""
