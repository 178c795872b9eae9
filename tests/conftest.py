import os
import sys
from pathlib import Path

# Tests import their helpers module by name.
sys.path.insert(0, str(Path(__file__).parent))

# Tests start `fakellm serve` in other directories: a relative PYTHONPATH (`PYTHONPATH=src`) would make
# those subprocesses import whichever fakellm is installed instead of this one.
if os.environ.get("PYTHONPATH"):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        str(Path(entry).resolve()) for entry in os.environ["PYTHONPATH"].split(os.pathsep) if entry)
# A real Redis (redis-server on a free port) for the Redis store's tests.
from redis_fixture import own_redis, redis_prefix, redis_server, redis_url  # noqa: E402, F401
