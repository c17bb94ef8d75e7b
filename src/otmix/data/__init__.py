"""Data for otmix: view checks, preprocessing, unaligning, links, and the data sets (built-in, named, user files)."""

from .dataset import Dataset
from .datasets import DATASET_NAMES, data_root, load_dataset, load_path
from .digits2 import make_digits2
from .links import link_seed, read_link_file, simulate_links
from .preprocess import PREPROCESSING, preprocess_view, preprocess_views
from .supervised import SUPERVISED_NAMES, SupervisedData, load_supervised
from .synthetic import make_latent_views
from .unalign import unalign
from .views import check_views

__all__ = [
    "DATASET_NAMES",
    "PREPROCESSING",
    "SUPERVISED_NAMES",
    "SupervisedData",
    "Dataset",
    "check_views",
    "data_root",
    "link_seed",
    "load_dataset",
    "load_path",
    "load_supervised",
    "make_digits2",
    "make_latent_views",
    "preprocess_view",
    "preprocess_views",
    "read_link_file",
    "simulate_links",
    "unalign",
]
