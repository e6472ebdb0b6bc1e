#!/usr/bin/env python3
"""PyTorch oracle for the movie-review examples (examples/movie_reviews/*.pbtxt).

Reproduces graphrun's data pipeline exactly in Python (load() below: sklearn's split, the
Tokenizer fit on the training rows in sklearn's order, pre pad/truncate 40) and its per-epoch
shuffle (std::mt19937_64 Fisher-Yates, runtime/data/shuffle.*, seed mix(train.seed, epoch) as in
runtime/train/batches.cpp) and trains the same model (Keras-layout W/R/B, Dense on logits, BCE with
logits, Adam eps 1e-7) in torch.

  /usr/bin/python3 bench/compare_movie_torch.py --eval-ckpt RUN/best.ckpt      # graphrun checkpoint on the same split
  graphrun run examples/movie_reviews/lstm.pbtxt -i tokens=T.npy -i labels=L.npy -f W -f R -f B -f dense_W -f dense_b -o INIT
  /usr/bin/python3 bench/compare_movie_torch.py --cell lstm --init graphrun --init-dir INIT --order graphrun \
      --train-seed S --adam keras

With --init graphrun --order graphrun (and --train-seed = the config's train seed) the per-epoch
figures equal graphrun's train.log to the printed 4 decimals: with --adam keras for graphrun's
default Adam, with --adam torch (torch.optim.Adam, as the PyTorch reference implementation) for a graphrun run with
`adam { epsilon_placement: PYTORCH }`. Mixing the two leaves ~1e-4 differences by epoch 2.
--init keras draws Keras-distributed initial weights from torch's generator instead.
Slow on a loaded machine (fused LSTM, step-loop GRU); set OMP_NUM_THREADS=1 when the cores are busy.
"""
import argparse, copy, csv, glob, gzip, json, math, os, sys, time
# The PyTorch reference implementation (train_ref.py) is not part of this repository:
# GRAPHRUN_TORCH_REFERENCE names the folder that holds it.
sys.path.insert(0, os.environ.get('GRAPHRUN_TORCH_REFERENCE', '.'))
import torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '2')))
import numpy as np
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('REF_BLAS_CHILD', '1')  # train_ref: no BLAS re-exec on import

MASK64 = (1 << 64) - 1
class MT64:
    def __init__(self, seed):
        self.mt = [0] * 312; self.mt[0] = seed & MASK64
        for i in range(1, 312):
            self.mt[i] = (6364136223846793005 * (self.mt[i-1] ^ (self.mt[i-1] >> 62)) + i) & MASK64
        self.idx = 312
    def gen(self):
        if self.idx >= 312:
            mt = self.mt
            for i in range(312):
                x = (mt[i] & 0xFFFFFFFF80000000) | (mt[(i+1) % 312] & 0x7FFFFFFF)
                xa = x >> 1
                if x & 1: xa ^= 0xB5026F5AA96619E9
                mt[i] = mt[(i + 156) % 312] ^ xa
            self.idx = 0
        y = self.mt[self.idx]; self.idx += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & MASK64
    def below(self, bound):
        if bound <= 1: return 0
        rem = (1 << 64) % bound
        last = MASK64 - rem
        r = self.gen()
        while r > last: r = self.gen()
        return r % bound
    def shuffle(self, v):
        for i in range(len(v), 1, -1):
            j = self.below(i); v[i-1], v[j] = v[j], v[i-1]

def mix(a, b):
    z = (a + 0x9e3779b97f4a7c15 * (b + 1)) & MASK64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & MASK64
    return z ^ (z >> 31)

def permutation(n, seed):
    v = list(range(n)); MT64(seed).shuffle(v); return v

FILTERS = '#$%&()*+-/:;<=>@[\\]^{|}~\t\n,.!"'
def load():
    """graphrun's pipeline for examples/movie_reviews: apostrophes deleted, sklearn's
    stratified 90/10 split (seed 42) with the training rows kept in sklearn's order,
    the Tokenizer fit on them in that order, pre pad/truncate to 40. train_ref's
    load_movie does exactly this (its split is a re-implementation of sklearn's)."""
    from train_ref import KerasTokenizer, load_movie, pad_sequences
    texts, y, tr, va, _ = load_movie()
    tok = KerasTokenizer(num_words=10000, filters=FILTERS).fit_on_texts([texts[i] for i in tr])
    X = pad_sequences(tok.texts_to_sequences(texts), 40)
    return tok, X, y, np.asarray(tr), np.asarray(va), texts

def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]; i += 1; r |= (c & 0x7f) << s; s += 7
        if c < 0x80: return r, i
def _fields(b):
    i = 0
    while i < len(b):
        key, i = _varint(b, i); f, wt = key >> 3, key & 7
        if wt == 0: v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i); v = b[i:i+n]; i += n
        elif wt == 1: v = b[i:i+8]; i += 8
        elif wt == 5: v = b[i:i+4]; i += 4
        else: raise ValueError(wt)
        yield f, wt, v
def read_checkpoint(path):
    b = open(path, 'rb').read()
    if b[:4] == b'GRCK': b = b[20:]  # runtime/train/checkpoint.h: a 20-byte header, then the protobuf
    params = {}; meta = {}
    for f, wt, v in _fields(b):
        if f == 5:
            name, dims, data = None, [], None
            for g, wt2, u in _fields(v):
                if g == 1: name = u.decode()
                elif g == 3:
                    if wt2 == 0: dims.append(u)
                    else:
                        j = 0
                        while j < len(u): d, j = _varint(u, j); dims.append(d)
                elif g == 4: data = u
            params[name] = np.frombuffer(data, dtype=np.float32).reshape(dims).copy()
        elif f in (2, 3, 9): meta[f] = v
    return params, meta
def glove_matrix(tok, rows=10000):
    vec = {}
    for p in sorted(glob.glob(os.path.join(REPO_ROOT, 'examples/data/glove/glove.6B.100d.top30k.part*.txt.gz'))):
        with gzip.open(p, 'rt', encoding='utf-8') as f:
            for line in f:
                v = line.split()
                if len(v) == 101: vec[v[0]] = np.asarray(v[1:], dtype=np.float32)
    M = np.zeros((rows, 100), np.float32); hit = 0
    for w, i in tok.word_index.items():
        if 1 <= i < rows and w in vec: M[i] = vec[w]; hit += 1
    return M, hit

class Net(nn.Module):
    """Keras layout: W [C,G*H], R [H,G*H], B [G*H]; dense_W [H,1], dense_b [1]."""
    def __init__(self, cell, M, H=100):
        super().__init__()
        self.cell, self.H = cell, H
        G = {'lstm': 4, 'gru': 3, 'rnn': 1}[cell]
        self.emb = nn.Embedding.from_pretrained(torch.from_numpy(M), freeze=True)
        self.W = nn.Parameter(torch.zeros(100, G * H)); self.R = nn.Parameter(torch.zeros(H, G * H))
        self.B = nn.Parameter(torch.zeros(G * H))
        self.dense_W = nn.Parameter(torch.zeros(H, 1)); self.dense_b = nn.Parameter(torch.zeros(1))
        if cell == 'lstm':
            self.fused = nn.LSTM(100, H, batch_first=True)
            for p in self.fused.parameters(): p.requires_grad_(False)
    def keras_init(self, gen):
        G = self.W.shape[1] // self.H
        with torch.no_grad():
            lim = math.sqrt(6 / (100 + G * self.H)); self.W.uniform_(-lim, lim, generator=gen)
            # Keras Orthogonal: QR of a normal matrix, signs fixed by diag(r) (torch 1.13's
            # orthogonal_ takes no generator, so done here)
            q, r = torch.linalg.qr(torch.randn(G * self.H, self.H, generator=gen))
            self.R.copy_((q * torch.sign(torch.diagonal(r))).t())
            self.B.zero_()
            if self.cell == 'lstm': self.B[self.H:2 * self.H] = 1
            lim = math.sqrt(6 / (self.H + 1)); self.dense_W.uniform_(-lim, lim, generator=gen); self.dense_b.zero_()
    def forward(self, x):
        e = self.emb(x); B_, T, _ = e.shape; H = self.H
        if self.cell == 'lstm':
            # fused kernel with our Keras-layout tensors as functional weights (gate order i,f,g,o = Keras)
            out = torch._VF.lstm(e, (e.new_zeros(1, B_, H), e.new_zeros(1, B_, H)),
                                 [self.W.t(), self.R.t(), self.B, torch.zeros_like(self.B)], True, 1, 0.0, self.training, False, True)
            h = out[0][:, -1]
        else:
            xw = (e.reshape(B_ * T, 100) @ self.W + self.B).view(B_, T, -1).unbind(1)
            h = e.new_zeros(B_, H)
            for t in range(T):
                if self.cell == 'rnn':
                    h = torch.tanh(xw[t] + h @ self.R)
                else:
                    rz = h @ self.R[:, :2 * H]
                    z = torch.sigmoid(xw[t][:, :H] + rz[:, :H]); r = torch.sigmoid(xw[t][:, H:2 * H] + rz[:, H:])
                    n = torch.tanh(xw[t][:, 2 * H:] + (r * h) @ self.R[:, 2 * H:])
                    h = z * h + (1 - z) * n
        return h @ self.dense_W + self.dense_b

class KerasAdam:
    """Keras' (and graphrun's) Adam: epsilon is added to sqrt(v) before the bias
    correction, which is folded into the step size (Kingma & Ba's "epsilon hat").
    torch.optim.Adam adds it to the bias-corrected sqrt(v_hat): a larger effective
    epsilon early in training here, by 1/sqrt(1 - beta2^t)."""
    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
        self.params, self.lr, self.b1, self.b2, self.eps, self.t = list(params), lr, beta1, beta2, eps, 0
        self.m = [torch.zeros_like(q) for q in self.params]; self.v = [torch.zeros_like(q) for q in self.params]
    def zero_grad(self):
        for q in self.params: q.grad = None
    @torch.no_grad()
    def step(self):
        self.t += 1
        alpha = self.lr * math.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t)
        for q, m, v in zip(self.params, self.m, self.v):
            m.add_((q.grad - m) * (1 - self.b1)); v.add_((q.grad * q.grad - v) * (1 - self.b2))
            q.sub_(alpha * m / (v.sqrt() + self.eps))

def evaluate(model, X, Y, bs=1024):
    model.eval(); tl = tc = 0.0
    with torch.no_grad():
        for s in range(0, len(X), bs):
            out = model(X[s:s + bs]).view(-1); y = Y[s:s + bs]
            tl += F.binary_cross_entropy_with_logits(out, y).item() * len(y)
            tc += ((out > 0) == (y > 0.5)).sum().item()
    return tl / len(X), tc / len(X)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cell', default='lstm'); ap.add_argument('--batch', type=int, default=1024)
    ap.add_argument('--init', default='graphrun', help='graphrun (npy dir) | keras')
    ap.add_argument('--init-dir', default=''); ap.add_argument('--order', default='graphrun', help='graphrun | torch')
    ap.add_argument('--seed', type=int, default=0); ap.add_argument('--train-seed', type=int, default=42, help='graphrun train { seed } for --order graphrun'); ap.add_argument('--epochs', type=int, default=100)
    ap.add_argument('--dump-init', default='', help='write --init keras weights for --seed as DIR/{W,R,B,dense_W,dense_b}.npy and exit'); ap.add_argument('--patience', type=int, default=5); ap.add_argument('--adam', default='torch', help='torch (torch.optim.Adam, as the PyTorch reference) | keras (as graphrun)'); ap.add_argument('--eval-ckpt', default='')
    a = ap.parse_args()
    if a.dump_init:  # no data needed: the weights only
        model = Net(a.cell, np.zeros((10000, 100), np.float32))
        model.keras_init(torch.Generator().manual_seed(a.seed))
        os.makedirs(a.dump_init, exist_ok=True)
        for k in ('W', 'R', 'B', 'dense_W', 'dense_b'):
            np.save(f'{a.dump_init}/{k}.npy', getattr(model, k).detach().numpy())
        return
    tok, X, y, tr, va, _ = load()
    M, hit = glove_matrix(tok)
    X = torch.from_numpy(X); Yf = torch.from_numpy(y).float()
    Xtr, Ytr, Xva, Yva = X[tr], Yf[tr], X[va], Yf[va]
    print(f'train {len(tr)} val {len(va)} glove hits {hit}', flush=True)
    torch.manual_seed(a.seed)
    model = Net(a.cell, M)
    if a.eval_ckpt:
        p, m = read_checkpoint(a.eval_ckpt)
        with torch.no_grad():
            for k, v in p.items(): getattr(model, k).copy_(torch.from_numpy(v))
        print('ckpt', m, 'val loss/acc', evaluate(model, Xva, Yva), 'train loss/acc', evaluate(model, Xtr, Ytr)); return
    if a.init == 'graphrun':
        with torch.no_grad():
            for k in ('W', 'R', 'B', 'dense_W', 'dense_b'):
                getattr(model, k).copy_(torch.from_numpy(np.load(f'{a.init_dir}/{k}.npy')))
    else:
        model.keras_init(torch.Generator().manual_seed(a.seed))
    params = [model.W, model.R, model.B, model.dense_W, model.dense_b]
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7) if a.adam == 'torch' else KerasAdam(params)
    gen = torch.Generator().manual_seed(a.seed)
    best, wait, n = None, 0, len(tr)
    for ep in range(1, a.epochs + 1):
        order = torch.tensor(permutation(n, mix(a.train_seed, ep))) if a.order == 'graphrun' else torch.randperm(n, generator=gen)
        model.train(); tl = tc = 0.0; t0 = time.time()
        for s in range(0, n, a.batch):
            idx = order[s:s + a.batch]; xb, yb = Xtr[idx], Ytr[idx]
            opt.zero_grad(); out = model(xb).view(-1)
            loss = F.binary_cross_entropy_with_logits(out, yb); loss.backward(); opt.step()
            tl += loss.item() * len(idx); tc += ((out.detach() > 0) == (yb > 0.5)).sum().item()
        vl, vacc = evaluate(model, Xva, Yva)
        print(f'epoch {ep}  loss {tl / n:.4f}  binary_accuracy {tc / n:.4f}  val_loss {vl:.4f}  val_binary_accuracy {vacc:.4f}  {time.time() - t0:.1f}s', flush=True)
        if best is None or vacc > best[1]: best, wait = (ep, vacc), 0
        else:
            wait += 1
            if wait >= a.patience: break
    print('best', json.dumps({'cell': a.cell, 'batch': a.batch, 'init': a.init, 'order': a.order, 'adam': a.adam, 'seed': a.seed, 'best_epoch': best[0], 'best_val_acc': best[1]}))

if __name__ == '__main__':
    main()
