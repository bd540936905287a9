"""How a network learns: a small network trained live on 2-D data, one backpropagation step by
hand, optimisers on loss surfaces, and a head fine-tuned on pretrained sentence vectors."""
