"""MobileNetV2 (Sandler et al.): `features` split into the paper's bottleneck groups, named so that `layer3`
and `layer4` end at stride 16 and 32 as ResNet's: conv1 (stem + first group, /2, 16 ch), layer1 (/4, 24),
layer2 (/8, 32), layer3a (/16, 64), layer3 (/16, 96), layer4a (/32, 160), layer4 (/32, 320).
Its blocks end in a linear bottleneck (no ReLU), so the maps can be negative: GeM clamps those to ~0."""
import torchvision

from vpr_lib.models.backbones import BackboneSpec, register


def stages(m) -> dict:
    f = list(m.features)
    return {"conv1": f[0:2], "layer1": f[2:4], "layer2": f[4:7], "layer3a": f[7:11], "layer3": f[11:14],
            "layer4a": f[14:17], "layer4": f[17:18]}


register("mobilenet_v2", BackboneSpec(lambda: torchvision.models.mobilenet_v2(weights=None),
                                      torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1, stages))
