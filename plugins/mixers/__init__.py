"""Built-in mixers (kind ``mixer``): (B, T, dim) + mask -> (B, T, dim).

Torch-free: only the configs are imported here; each factory string names the module that
holds the torch code, imported when the mixer is built.
"""
from zoo_core import hookimpl

from . import configs

_MIXERS = [
    # name, module:class, config, summary, post, paper
    ("identity", "identity:IdentityMixer", configs.IdentityConfig,
     "no token mixing (a baseline): returns its input",
     "N Layers is All We Need?", "-"),
    ("self_attention", "self_attention:SelfAttentionMixer", configs.SelfAttentionConfig,
     "multi-head softmax self-attention on torch SDPA, with DropHead (drop whole heads); quadratic",
     "Let’s Make AI Green (Again); Attention: Drop Heads Not Dimensions",
     "Vaswani et al., Attention Is All You Need (arXiv:1706.03762); Zhou et al., Scheduled DropHead "
     "(2020.findings-emnlp.178)"),
    ("linear_attention", "linear_attention:LinearAttentionMixer", configs.LinearAttentionConfig,
     "kernel attention with the elu+1 feature map: linear in sequence length",
     "Let’s Make AI Green (Again)",
     "Katharopoulos et al., Transformers are RNNs (arXiv:2006.16236)"),
    ("lambda", "lambda_layer:LambdaMixer.from_config", configs.LambdaConfig,
     "lambda layer: the context summarised into a (k x v) linear map applied to each query; "
     "linear in sequence length",
     "LambdaNetworks: A Quick Glimpse; Token Interactions: Mixing, Lambda and Attention",
     "Bello, LambdaNetworks: Modeling Long-Range Interactions Without Attention (arXiv:2102.08602)"),
    ("hypermixer", "hypermixer:HyperMixerMixer.from_config", configs.HyperMixerConfig,
     "token-mixing MLP whose weights hypernetworks generate from the tokens: any length, linear",
     "Let’s Make AI Green (Again)",
     "Mai et al., HyperMixer: An MLP-based Low Cost Alternative to Transformers (arXiv:2203.03691)"),
    ("gmlp", "gmlp:GMLPMixer.from_config", configs.GMLPConfig,
     "gMLP block: channel MLP with a spatial gating unit over a fixed max_len; quadratic",
     "N Layers is All We Need?",
     "Liu et al., Pay Attention to MLPs (arXiv:2105.08050)"),
    ("mlp_mixer", "mlp_mixer:MLPMixerMixer.from_config", configs.MLPMixerConfig,
     "MLP-Mixer token mixing: an MLP across the tokens over a fixed max_len",
     "N Layers is All We Need?; Token Interactions: Mixing, Lambda and Attention",
     "Tolstikhin et al., MLP-Mixer: An all-MLP Architecture for Vision (arXiv:2105.01601)"),
    ("fnet", "fnet:FNetMixer", configs.FNetConfig,
     "real part of a 2D Fourier transform over each sequence's real tokens; no parameters",
     "Token Interactions: Mixing, Lambda and Attention",
     "Lee-Thorp et al., FNet: Mixing Tokens with Fourier Transforms (arXiv:2105.03824)"),
    ("fastformer", "fastformer:FastformerMixer", configs.FastformerConfig,
     "additive attention: learned static queries pool global vectors, combined by products; linear",
     "Deep learning notes 08: Fastformer - additive or static (self)attention?",
     "Wu et al., Fastformer: Additive Attention Can Be All You Need (arXiv:2108.09084)"),
    ("performer", "performer:PerformerMixer", configs.PerformerConfig,
     "softmax attention approximated by FAVOR+ positive orthogonal random features; linear",
     "Deep learning papers/notes 01: Performers, Lookahead, rADAM",
     "Choromanski et al., Rethinking Attention with Performers (arXiv:2009.14794)"),
    ("causal_conv", "causal_conv:CausalConvMixer", configs.CausalConvConfig,
     "masked 1D convolution: left padding dilation*(kernel_size-1), so t never sees t+1",
     "Causal Convolution (1d)",
     "Bradbury et al., Quasi-Recurrent Neural Networks (arXiv:1611.01576); "
     "van den Oord et al., Pixel RNNs (arXiv:1601.06759)"),
    ("qrnn", "qrnn:QRNNMixer", configs.QRNNConfig,
     "quasi-recurrent layer: masked-convolution gates + fo-pooling (parallel scan); linear",
     "Causal Convolution (1d)",
     "Bradbury et al., Quasi-Recurrent Neural Networks (arXiv:1611.01576)"),
    ("gru", "gru:GRUMixer", configs.GRUConfig,
     "GRU over packed variable-length batches, states in the original order",
     "Who’s Afraid of the Recurrent Wolf?",
     "Cho et al. (arXiv:1406.1078)"),
    ("lstm", "lstm:LSTMMixer", configs.LSTMConfig,
     "LSTM over packed variable-length batches, states in the original order",
     "Who’s Afraid of the Recurrent Wolf?",
     "Hochreiter & Schmidhuber, Long Short-Term Memory (Neural Computation 1997)"),
    ("vq", "vq:VQMixer.from_config", configs.VQConfig,
     "vector quantiser: nearest code, straight-through, commitment loss, EMA codebook with random restarts "
     "of dead codes; codebook_usage()",
     "Vector Quantization: Avoiding Codebook Collapse",
     "Dhariwal et al., Jukebox (arXiv:2005.00341, section 3.1); van den Oord et al., VQ-VAE (arXiv:1711.00937)"),
]


# issue 17 (the notes posts' layers): keyword-argument classes built by their own from_config,
# which the factory string names until the core calls from_config itself
_MIXERS += [
    ("switch", "switch:SwitchMixer.from_config", configs.SwitchConfig,
     "Switch feed-forward layer: E experts, each token routed to its top-1 expert (scaled by the router "
     "probability), capacity with dropped tokens, load-balancing aux loss; expert usage via codebook_usage()",
     "Deep learning notes 03: Switch, Feedback, and generally transformers",
     "Fedus et al., Switch Transformers (arXiv:2101.03961)"),
    ("fast_weights", "fast_weights:FastWeightsMixer.from_config", configs.FastWeightsConfig,
     "fast-weights RNN: the new state settles in S inner steps under a decaying Hebbian memory of the "
     "recent states (attention form); causal, sequential",
     "Fast weights: attend to the recent past",
     "Ba et al., Using Fast Weights to Attend to the Recent Past (arXiv:1610.06258)"),
    ("feedback", "feedback:FeedbackMixer.from_config", configs.FeedbackConfig,
     "feedback memory: attention layers where every layer of token t reads memories (a learned mix of all "
     "layer states) of earlier tokens; causal, sequential over tokens",
     "Deep learning notes 03: Switch, Feedback, and generally transformers",
     "Fan et al., Addressing Some Limitations of Transformers with Feedback Memory (arXiv:2002.09402)"),
]


@hookimpl
def zoo_register_components(register):
    for name, target, config, summary, post, paper in _MIXERS:
        register("mixer", name, factory=f"zoo_plugins.mixers.{target}", config=config,
                 summary=summary, post=post, paper=paper)
