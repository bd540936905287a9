"""What two task packages both use: text checks, token display, token attributions, rollout
maths and the plotting style. Imports only from backend.runtime."""
