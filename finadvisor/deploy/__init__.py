"""Scale-out on existing engines: Ray Serve replicas of the same FastAPI app, vLLM behind them, Redis cache."""
