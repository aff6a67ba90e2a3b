"""ResNet-18 (He et al.): the course's backbone. Stages conv1 (stem + max-pool, /4), layer1 (/4, 64 ch),
layer2 (/8, 128), layer3 (/16, 256), layer4 (/32, 512)."""
import torchvision

from vpr_lib.models.backbones import BackboneSpec, register


def stages(m) -> dict:
    return {"conv1": [m.conv1, m.bn1, m.relu, m.maxpool], "layer1": [m.layer1], "layer2": [m.layer2],
            "layer3": [m.layer3], "layer4": [m.layer4]}


register("resnet18", BackboneSpec(lambda: torchvision.models.resnet18(weights=None),
                                  torchvision.models.ResNet18_Weights.IMAGENET1K_V1, stages))
