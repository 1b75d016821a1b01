"""Built-in mixers (kind ``mixer``): (B, T, dim) + mask -> (B, T, dim).

Torch-free: only the configs are imported here; each factory string names the module that
holds the torch code, imported when the mixer is built. Each module's docstring cites its
post and paper (``Post:``/``Paper:`` lines, read by zoo info without importing it).
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
    ("lambda", "lambda_layer:LambdaMixer", configs.LambdaConfig,
     "lambda layer: the context summarised into a (k x v) linear map applied to each query; linear in "
     "sequence length"),
    ("hypermixer", "hypermixer:HyperMixerMixer", configs.HyperMixerConfig,
     "token-mixing MLP whose weights hypernetworks generate from the tokens: any length, linear"),
    ("gmlp", "gmlp:GMLPMixer", configs.GMLPConfig,
     "gMLP block: channel MLP with a spatial gating unit over a fixed max_len; quadratic"),
    ("mlp_mixer", "mlp_mixer:MLPMixerMixer", configs.MLPMixerConfig,
     "MLP-Mixer token mixing: an MLP across the tokens over a fixed max_len"),
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
    ("vq", "vq:VQMixer", configs.VQConfig,
     "vector quantiser: nearest code, straight-through, commitment loss, EMA codebook with random restarts "
     "of dead codes; codebook_usage()"),
    ("switch", "switch:SwitchMixer", configs.SwitchConfig,
     "Switch feed-forward layer: E experts, each token routed to its top-1 expert (scaled by the router "
     "probability), capacity with dropped tokens, load-balancing aux loss; expert usage via "
     "codebook_usage()"),
    ("fast_weights", "fast_weights:FastWeightsMixer", configs.FastWeightsConfig,
     "fast-weights RNN: the new state settles in S inner steps under a decaying Hebbian memory of the "
     "recent states (attention form); causal, sequential"),
    ("ponder", "ponder:PonderMixer", configs.PonderConfig,
     "PonderNet: an inner mixer applied up to N times, halting with a learned probability per step; loss "
     "sum_n p_n L(y_n) + beta KL(p || Geometric(lambda_p)); the model reports the mean halting step"),
    ("feedback", "feedback:FeedbackMixer", configs.FeedbackConfig,
     "feedback memory: attention layers where every layer of token t reads memories (a learned mix of all "
     "layer states) of earlier tokens; causal, sequential over tokens"),
]


@hookimpl
def zoo_register_components(register):
    for name, target, config, summary in _MIXERS:
        register("mixer", name, factory=f"zoo_plugins.mixers.{target}", config=config, summary=summary)
