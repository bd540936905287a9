"""Self-attention: the weights, the toy example, the step-through with real Q/K/V, the views."""
