"""A PyTorch `IterableDataset` over a sift version. torch is imported only
when this module is, so it is no dependency of sift_curate.

    from sift_curate.torch import VersionDataset
    ds = VersionDataset(store.version("clean"), columns=["text"], shuffle_seed=epoch)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=4)
"""

import torch.utils.data

from . import Version


class VersionDataset(torch.utils.data.IterableDataset):
    """Yields `pyarrow.RecordBatch`es; each DataLoader worker (and each
    distributed rank, given `rank` and `world`) reads its own segments, so
    every row comes once per epoch."""

    def __init__(self, version: Version, batch_size=8192, columns=None, shuffle_seed=None, rank=0, world=1):
        self.version, self.batch_size, self.columns = version, batch_size, columns
        self.shuffle_seed, self.rank, self.world = shuffle_seed, rank, world

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        shard = (self.rank * workers + worker, self.world * workers)
        yield from self.version.iter_batches(self.batch_size, self.columns, self.shuffle_seed, shard)
