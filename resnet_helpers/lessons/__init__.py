"""One module per notebook, on top of the core and `training` (whose `experiment` module holds the
plain and residual twins' short training loop that notebooks 01, 05 and 06 share):

- 00 start here: `widgets.show_images`
- 01 `function_classes`: nested function classes and the degradation figures
- 02 `residual_block` (the block explorer) and `diagrams` (block drawings)
- 03 `architecture` (the architecture explorer) and `family` (ResNet-18..152 vs torchvision)
- 04 `training`: step-time breakdown, confusion matrix, mistakes and the words its cells print
  (the trainer itself is `resnet_helpers.training`)
- 05 `going_deeper`: gradient flow, twins, very deep networks, bottlenecks
- 06 `why_it_works`: lesions, paths, loss landscapes, residual responses
- 07 `several_gpus`: the words its cells print (the DDP run itself is `training.distributed`)
- `widgets`: what every panel shares; `paper`: figures quoted from the papers
"""
