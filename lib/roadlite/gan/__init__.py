"""WGAN-GP augmentation: one class-conditional Wasserstein GAN with gradient penalty.

Chapter 02_gan teaches this module. MobiLiteNet (Hu et al. 2025) enlarges its dataset with a
"Wasserstein Generative Adversarial Network with Gradient Penalty (WGAN-GP)": "for each distress
class, 4500 synthetic images were generated, of which 4000 were allocated for training and 500
for validation". The authors' released code has no GAN, so this one follows Gulrajani et al.,
"Improved Training of Wasserstein GANs" (2017), whose loss the paper quotes as its Eq. (7)::

    L = E_{x~ ~ P_g}[D(x~)] - E_{x ~ P_r}[D(x)] + lambda * E_{x^ ~ P_x^}[(||grad_x^ D(x^)||_2 - 1)^2]

with Gulrajani et al.'s defaults: gradient penalty coefficient lambda = 10, n_critic = 5 critic
iterations per generator iteration, Adam with alpha = 1e-4, beta1 = 0, beta2 = 0.9. The penalty
is taken at x^ = eps * x + (1 - eps) * x~, "sampling uniformly along straight lines between
pairs of points sampled from the data distribution P_r and the generator distribution P_g".
Because the penalty constrains "the gradient norm of the critic's output with respect to its
input independently for each sample", the critic has no batch normalization (which "changes
the form of the discriminator's problem from mapping a single input to a single output to
mapping from an entire batch of inputs to a batch of outputs"); it uses layer normalization
(``GroupNorm(1, C)``, per sample over channels and pixels) or none.

Architecture (DCGAN style, Radford et al. 2016): the :class:`Generator` maps z (plus a class
embedding) through 4x4 transposed-convolution stages with batch norm and ReLU to a tanh image;
the :class:`Critic` mirrors it with strided 4x4 convolutions and LeakyReLU(0.2), no batch norm,
and a linear (unbounded) output. The output size is a parameter: a power of two from 16 to 256
(:data:`VALID_SIZES`); channel widths are parameters too.

**One conditional model, not one GAN per class.** The paper generates images "for each distress
category" without saying whether with one GAN per class or one for all; here one generator and
one critic serve all classes, conditioned on the label: the generator concatenates a learned
class embedding to z (Mirza & Osindero 2014), the critic adds a projection term
<embed(y), phi(x)> to its output (Miyato & Koyama 2018). Reasons: (1) the
classes share almost everything -- asphalt texture, grain, lighting, wet and night conditions --
and a shared model learns those statistics from all images at once instead of four times from a
quarter of the data; (2) it costs a quarter of the compute of four separate GANs for the same
number of iterations, which matters on a two-core CPU; (3) a class has only a few hundred
images (the paper's 2,873 photos over four classes), where a GAN per class overfits or
collapses sooner. Batches are class-balanced, so a rare class is learned as well as a frequent
one (the paper's stated goal of "addressing data imbalance").

The package's modules: :mod:`.networks` (generator, critic, penalty), :mod:`.wgan_gp` (training),
:mod:`.frechet` (quality), :mod:`.augmented_set` (writing the images; training a classifier
with and without them, :func:`with_and_without_arms`, :func:`train_arms`). Quality is measured offline by
:func:`frechet_distance` between feature sets, with features from
a classifier trained in this book (:func:`classifier_features`) instead of Inception-v3 (Heusel
et al. 2017's FID needs downloaded weights). :func:`write_augmented_set` writes generated images
as PNGs with manifest rows, so later chapters train on real + synthetic through the manifest.
"""

from __future__ import annotations

from .augmented_set import train_arms, with_and_without_arms, write_augmented_set
from .frechet import classifier_features, frechet_distance, frechet_distance_gaussians
from .networks import (
    ADAM_BETAS,
    ADAM_LR,
    LAMBDA_GP,
    N_CRITIC,
    VALID_SIZES,
    Critic,
    Generator,
    check_size,
    dcgan_init,
    from_gan_range,
    gradient_penalty,
    image_grid,
    resize_uint8,
    to_gan_range,
)
from .wgan_gp import WGANGP

__all__ = [
    "ADAM_BETAS", "ADAM_LR", "LAMBDA_GP", "N_CRITIC", "VALID_SIZES", "WGANGP", "Critic",
    "Generator", "check_size", "classifier_features", "dcgan_init", "frechet_distance",
    "frechet_distance_gaussians", "from_gan_range", "gradient_penalty", "image_grid",
    "resize_uint8", "to_gan_range", "train_arms", "with_and_without_arms", "write_augmented_set",
]
