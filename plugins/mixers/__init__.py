"""Built-in mixers (kind ``mixer``): (B, T, dim) + mask -> (B, T, dim).

Torch-free: only the configs are imported here; each factory string names the module that
holds the torch code, imported when the mixer is built. Each method module's docstring
cites its post and paper (``Post:``/``Paper:`` lines, which ``zoo info`` shows).
"""
from zoo_core import hookimpl

from . import configs

_MIXERS = [
    # name, module:class, config, summary
    ("identity", "identity:IdentityMixer", configs.IdentityConfig,
     "no token mixing (a baseline): returns its input"),
    ("self_attention", "self_attention:SelfAttentionMixer", configs.SelfAttentionConfig,
     "multi-head softmax self-attention on torch SDPA, with DropHead (drop whole heads); quadratic"),
    ("linear_attention", "linear_attention:LinearAttentionMixer", configs.LinearAttentionConfig,
     "kernel attention with the elu+1 feature map: linear in sequence length"),
    ("fnet", "fnet:FNetMixer", configs.FNetConfig,
     "real part of a 2D Fourier transform over each sequence's real tokens; no parameters"),
    ("fastformer", "fastformer:FastformerMixer", configs.FastformerConfig,
     "additive attention: learned static queries pool global vectors, combined by products; linear"),
    ("performer", "performer:PerformerMixer", configs.PerformerConfig,
     "softmax attention approximated by FAVOR+ positive orthogonal random features; linear"),
    ("causal_conv", "causal_conv:CausalConvMixer", configs.CausalConvConfig,
     "masked 1D convolution: left padding dilation*(kernel_size-1), so t never sees t+1"),
    ("qrnn", "qrnn:QRNNMixer", configs.QRNNConfig,
     "quasi-recurrent layer: masked-convolution gates + fo-pooling (parallel scan); linear"),
    ("gru", "gru:GRUMixer", configs.GRUConfig,
     "GRU over packed variable-length batches, states in the original order"),
    ("lstm", "lstm:LSTMMixer", configs.LSTMConfig,
     "LSTM over packed variable-length batches, states in the original order"),
]

# Not yet converted to docstring citations (their modules are being changed elsewhere):
# name, module:class, config, summary, post, paper
_MIXERS_CITED_HERE = [
    ("lambda", "lambda_layer:LambdaMixer", configs.LambdaConfig,
     "lambda layer: the context summarised into a (k x v) linear map applied to each query; "
     "linear in sequence length",
     "LambdaNetworks: A Quick Glimpse; Token Interactions: Mixing, Lambda and Attention",
     "Bello, LambdaNetworks: Modeling Long-Range Interactions Without Attention (arXiv:2102.08602)"),
    ("hypermixer", "hypermixer:HyperMixerMixer", configs.HyperMixerConfig,
     "token-mixing MLP whose weights hypernetworks generate from the tokens: any length, linear",
     "Let’s Make AI Green (Again)",
     "Mai et al., HyperMixer: An MLP-based Low Cost Alternative to Transformers (arXiv:2203.03691)"),
    ("gmlp", "gmlp:GMLPMixer", configs.GMLPConfig,
     "gMLP block: channel MLP with a spatial gating unit over a fixed max_len; quadratic",
     "N Layers is All We Need?",
     "Liu et al., Pay Attention to MLPs (arXiv:2105.08050)"),
    ("mlp_mixer", "mlp_mixer:MLPMixerMixer", configs.MLPMixerConfig,
     "MLP-Mixer token mixing: an MLP across the tokens over a fixed max_len",
     "N Layers is All We Need?; Token Interactions: Mixing, Lambda and Attention",
     "Tolstikhin et al., MLP-Mixer: An all-MLP Architecture for Vision (arXiv:2105.01601)"),
    ("vq", "vq:VQMixer", configs.VQConfig,
     "vector quantiser: nearest code, straight-through, commitment loss, EMA codebook with random restarts "
     "of dead codes; codebook_usage()",
     "Vector Quantization: Avoiding Codebook Collapse",
     "Dhariwal et al., Jukebox (arXiv:2005.00341, section 3.1); van den Oord et al., VQ-VAE (arXiv:1711.00937)"),
]


@hookimpl
def zoo_register_components(register):
    for name, target, config, summary in _MIXERS:
        register("mixer", name, factory=f"zoo_plugins.mixers.{target}", config=config, summary=summary)
    for name, target, config, summary, post, paper in _MIXERS_CITED_HERE:
        register("mixer", name, factory=f"zoo_plugins.mixers.{target}", config=config,
                 summary=summary, post=post, paper=paper)
