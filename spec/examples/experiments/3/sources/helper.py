def augment(batch):
    return batch
