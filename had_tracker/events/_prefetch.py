"""A numba intrinsic that prefetches one array element into cache for writing (LLVM ``llvm.prefetch``)."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# "p0i8" is the typed-pointer name; LLVM versions with opaque pointers upgrade it to "p0" themselves.
_NAME = "llvm.prefetch.p0i8"
_RW_WRITE, _LOCALITY_HIGH, _DATA_CACHE = 1, 3, 1


@intrinsic
def prefetch_for_write(typingctx, array, index):  # noqa: ARG001 - numba's intrinsic signature
    """Hint the CPU to bring ``array[index]`` (1-D, contiguous) into cache; never faults, returns nothing."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        index_value = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = builder.gep(ary.data, [index_value])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _NAME)
        consts = [ir.Constant(i32, v) for v in (_RW_WRITE, _LOCALITY_HIGH, _DATA_CACHE)]
        builder.call(fn, [builder.bitcast(ptr, i8p), *consts])
        return context.get_dummy_value()

    return types.void(array, index), codegen
