"""Instruments that record what happens inside a recurrent network."""

from .gradflow import GradientFlowCallback, decay_rate, gradient_flow, model_gradient_flow, state_gradients
from .record import LayerRecord, Recording, record
from .trace import trace

__all__ = [
    "record",
    "Recording",
    "LayerRecord",
    "trace",
    "gradient_flow",
    "model_gradient_flow",
    "state_gradients",
    "decay_rate",
    "GradientFlowCallback",
]
