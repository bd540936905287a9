"""What every task shares: the model registry, device, loading and the load-once cache, the
scheduler (one fair queue per model), memory, warm-up and the errors pages show. Imports nothing
from the task packages."""
