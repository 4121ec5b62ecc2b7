"""The cyclic garbage collector, set for a process that keeps what it starts with.

At Python's defaults a worker spent a fifth to a quarter of its CPU in the collector on
the bench's traffic: a batch makes some hundred thousand short-lived objects, a young
collection every 700 of them promotes those of the batch still in use, and each full
collection then walks every object the process holds, the modules and the restored
states among them, to find no garbage there.
"""

import gc

# Tracked objects (net of those freed) between young collections: twice what the worker
# holds in flight at the default batch size (the bench's 5,000-record batches kept some
# 35,000 to 50,000 alive, one being processed and the next fetched). Collecting young objects
# more often only walks a batch's records to find them alive: at 10,000 that took 1.3 to
# 2.2 µs of the worker's 15 to 18 per record.
YOUNG_COLLECTION_THRESHOLD = 100_000


def settle() -> None:
    """Once the process has started and restored its states: all it holds then stays for its
    lifetime, so full collections leave it out (gc.freeze), and young ones come less often.
    What becomes garbage of it later is still freed by reference counting."""
    gc.collect()  # the start's own garbage, which frozen would never be freed
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)
