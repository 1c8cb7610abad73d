"""Training, on top of the core: recipes, data on the device, checkpoints, the trainer, the short
experiment loop, the benchmark, and the d2l adapter. Import from the module that holds a name:

    from resnet_helpers.training.trainer import train_resnet
"""
