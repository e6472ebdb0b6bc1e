#!/usr/bin/env python3
"""The emoji VAE (examples/emoji_vae/vae.pbtxt) trained in PyTorch with Keras' semantics, to
measure what its validation loss does in another framework: the notebook printed no loss.

Same model, loss and training as the notebook and graphrun's example:
  - 872 RGBA 36x36 PNGs / 255, split as the notebook splits them (np.random.rand(872) < 0.8),
    here seeded with --split-seed;
  - three Conv2D(64, 3x3, same, relu) -> Flatten -> z_mean, z_log_var (Dense to 16, glorot_normal
    as Keras 2.2+: truncated at 2 stddev, stddev sqrt(2 / fan_sum) / 0.87962566; zero bias) ->
    z = z_mean + exp(z_log_var / 2) * eps -> Dense(5184, relu) -> Reshape(36, 36, 4) -> three
    Conv2DTranspose(64, 3x3, same, relu) -> Dropout(0.8) -> Conv2DTranspose(4, 3x3, same,
    sigmoid); every other kernel glorot_uniform, every bias zero;
  - loss per image: BCE on probabilities clipped to [1e-7, 1 - 1e-7], mean over the 4 channels,
    summed over the 36x36 pixels, plus -0.5 * sum(1 + log_var - mean^2 - exp(log_var)); the batch
    mean is minimised. z_log_var is clamped to [-30, 30] as graphrun's example does (see its README);
  - Adam(0.003, epsilon 1e-7; torch.optim.Adam, whose epsilon differs from Keras' by a factor of
    sqrt(1 - 0.999^t), which fades within a few hundred steps), batch 16, the training rows
    reshuffled every epoch, the last batch partial;
  - val_loss as Keras computes it: dropout off, eps still drawn, the mean over the 174 images.

  /usr/bin/python3 bench/vae_reference.py --seed 1 --epochs 30    # one line per epoch, then a summary
OMP_NUM_THREADS sets torch's threads (default 2). bench/torch_models.py times this same model.
"""
import argparse, glob, math, os, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_emoji(folder):
    from PIL import Image  # here, not at the top: bench/torch_models.py imports the model without it
    files = sorted(glob.glob(os.path.join(folder, '*.png')))
    images = np.stack([np.asarray(Image.open(f).convert('RGBA'), dtype=np.float32) / 255.0 for f in files])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # NCHW


def glorot_uniform_(weight, fan_in, fan_out):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-limit, limit)


def glorot_normal_(weight, fan_in, fan_out):
    stddev = math.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978
    with torch.no_grad():
        nn.init.trunc_normal_(weight, 0.0, stddev, -2 * stddev, 2 * stddev)


class EmojiVae(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(4, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1),
                                    nn.Conv2d(64, 64, 3, padding=1)])
        self.z_mean = nn.Linear(36 * 36 * 64, 16)
        self.z_log_var = nn.Linear(36 * 36 * 64, 16)
        self.dense = nn.Linear(16, 36 * 36 * 4)
        self.deconvs = nn.ModuleList([nn.ConvTranspose2d(4, 64, 3, padding=1), nn.ConvTranspose2d(64, 64, 3, padding=1),
                                      nn.ConvTranspose2d(64, 64, 3, padding=1)])
        self.out = nn.ConvTranspose2d(64, 4, 3, padding=1)
        for conv in list(self.convs) + list(self.deconvs) + [self.out]:
            # Keras: fans of a 3x3 kernel are 9 * channels in and 9 * channels out, either way round.
            glorot_uniform_(conv.weight, 9 * conv.in_channels, 9 * conv.out_channels)
        glorot_uniform_(self.dense.weight, 16, 36 * 36 * 4)
        for layer in (self.z_mean, self.z_log_var):
            glorot_normal_(layer.weight, 36 * 36 * 64, 16)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.zeros_(module.bias)

    def forward(self, original):
        x = original
        for conv in self.convs:
            x = F.relu(conv(x))
        # Keras flattens NHWC: the Dense rows follow (h, w, c) order. The order only permutes
        # rows of a randomly initialised matrix, so it does not change the model's distribution.
        flat = x.permute(0, 2, 3, 1).flatten(1)
        z_mean = self.z_mean(flat)
        z_log_var = self.z_log_var(flat).clamp(-30, 30)
        z = z_mean + torch.exp(z_log_var / 2) * torch.randn_like(z_mean)
        x = F.relu(self.dense(z)).view(-1, 36, 36, 4).permute(0, 3, 1, 2)  # Reshape of NHWC
        for deconv in self.deconvs:
            x = F.relu(deconv(x))
        p = torch.sigmoid(self.out(F.dropout(x, 0.8, self.training))).clamp(1e-7, 1 - 1e-7)
        bce = -(original * torch.log(p) + (1 - original) * torch.log(1 - p))
        kl = -0.5 * (1 + z_log_var - z_mean * z_mean - torch.exp(z_log_var)).sum(-1)
        return bce.mean(1).sum((1, 2)) + kl  # per image


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default=os.path.join(REPO_ROOT, 'examples/data/emoji_images/png36'))
    parser.add_argument('--seed', type=int, default=1, help='model, shuffle and eps seed')
    parser.add_argument('--split-seed', type=int, help='seed of the 80/20 split (default: --seed)')
    parser.add_argument('--epochs', type=int, default=30)
    args = parser.parse_args()

    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '2')))
    images = load_emoji(args.data)
    split_seed = args.seed if args.split_seed is None else args.split_seed
    train_mask = torch.from_numpy(np.random.RandomState(split_seed).rand(len(images)) < 0.8)
    train, val = images[train_mask], images[~train_mask]
    torch.manual_seed(args.seed)
    model = EmojiVae()
    adam = torch.optim.Adam(model.parameters(), lr=0.003, eps=1e-7)
    print(f'images {len(images)}: training {len(train)}, validation {len(val)}; seed {args.seed}, split seed {split_seed}')
    history = []
    for epoch in range(1, args.epochs + 1):
        started = time.time()
        model.train()
        total = 0.0
        for batch in torch.randperm(len(train)).split(16):
            loss = model(train[batch]).mean()
            adam.zero_grad()
            loss.backward()
            adam.step()
            total += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            val_loss = sum(model(chunk).sum().item() for chunk in val.split(16)) / len(val)
        history.append(val_loss)
        print(f'epoch {epoch} loss {total / len(train):.2f} val_loss {val_loss:.2f} ({time.time() - started:.1f} s)', flush=True)
    best = min(range(len(history)), key=history.__getitem__)
    fall = 100 * (history[0] - history[best]) / history[0]
    print(f'summary seed {args.seed} epochs {args.epochs} val_loss epoch 1 {history[0]:.2f} '
          f'best {history[best]:.2f} (epoch {best + 1}) fall {fall:.1f}%')


if __name__ == '__main__':
    main()
