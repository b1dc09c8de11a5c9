"""What leaves aelab: a run's encoder and decoder as ONNX (`to_onnx.py`), and its test codes
for TensorBoard's Embedding Projector (`projector.py`). Each loads its package only when used."""
