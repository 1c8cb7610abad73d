"""Training, on top of the core. Import from the module that holds a name:

    from resnet_helpers.training.trainer import train_resnet

- trainer.py: the trainer, its checkpoints, results and interrupt handling (`train_resnet`, `Trainer`)
- recipes.py: how to train and how much (`Recipe`, `RECIPES`, `RunSettings`, `sgd`)
- device_data.py: Fashion-MNIST as tensors on the device (`DeviceData`)
- experiment.py: the short loop and the plain/residual twins of notebooks 01, 05 and 06
- evaluate.py: one evaluation loop (`evaluate`, `predict`)
- progress.py: progress bars and the live training figure
- course.py: the d2l adapter (`CourseRun`, `results_table`)
- cli.py: the command line, `python -m resnet_helpers.training`
"""
