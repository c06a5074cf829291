"""The same trivial script in sacred's idiom, with a FileStorageObserver (2a, 2b)."""

from sacred import Experiment
from sacred.observers import FileStorageObserver

ex = Experiment("trivial")
ex.observers.append(FileStorageObserver("sacred_runs"))


@ex.config
def config():
    lr = 0.01  # noqa: F841 - sacred reads the config's locals
    epochs = 3  # noqa: F841 - sacred reads the config's locals
    model = "mlp"  # noqa: F841 - sacred reads the config's locals


@ex.automain
def main(lr, epochs, model):
    print(f"training {model} with lr={lr} for {epochs} epochs")
