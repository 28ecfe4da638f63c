namespace NsqSharp.Common.Protocol;

/// <summary>Server-to-client frame types of TCP protocol V2: [int32 size][int32 type][data].</summary>
public enum FrameType
{
    Response = 0,
    Error = 1,
    Message = 2,
}
