"""flotilla-profile: measured rows of this node's GPUs, framework and serving engine for flotilla."""
