"""Infrastructure: the realtime bus, SQL, auth, rate limits, logging, metrics, the circuit
breaker, the Temporal connection and the dev server."""
