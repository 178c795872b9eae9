import sys
from pathlib import Path

# Tests import their helpers module by name.
sys.path.insert(0, str(Path(__file__).parent))

# A real Redis (redis-server on a free port) for the Redis store's tests.
from redis_fixture import own_redis, redis_prefix, redis_server, redis_url  # noqa: E402, F401
