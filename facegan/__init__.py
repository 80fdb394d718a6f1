"""The face GAN itself, the package every other one stands on: the networks (`models`), the
model-file format (`checkpoint`) and the attribute directions fitted in latent space
(`directions`). It imports nothing from the trainer, the explorer or the evaluation."""
