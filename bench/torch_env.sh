# Sourced by the bench/*_vs_torch.sh scripts: the environments PyTorch runs in, defined once.
# Why each setting: see the header of bench/cpu_adam_vs_torch.sh (glibc's mmap threshold makes
# torch's per-step temporaries page-fault afresh every step; these stop that churn).
FAIR_MALLOC=(MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736)
THP=(GLIBC_TUNABLES=glibc.malloc.hugetlb=1)
CLEAN=(-u MALLOC_MMAP_THRESHOLD_ -u MALLOC_TRIM_THRESHOLD_ -u GLIBC_TUNABLES -u LD_PRELOAD
  -u OMP_WAIT_POLICY)
# One core for every library either side may use.
ONE_CORE=(OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1)
