"""The Hydra app that Hydra's submitit launcher submits in a multirun."""

import hydra


@hydra.main(version_base=None)
def main(cfg):
    return cfg.lr


if __name__ == "__main__":
    main()
